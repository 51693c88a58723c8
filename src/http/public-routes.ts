import Router from '@koa/router';
import type { Context } from 'koa';
import type { Authenticator } from '../auth/authenticator.js';
import { ownerOf } from '../auth/roles.js';
import { invalidJobId, TooLargeError, UnavailableError } from '../errors.js';
import { isJobId, isTerminal, STATUS, type Job, type JobScope } from '../jobs/job.js';
import type { JobService } from '../jobs/service.js';
import type { FileStore } from '../storage/file-store.js';
import { authenticate, authorize, principalOf } from './auth.js';
import { RateLimiter, type RateLimits } from './rate-limit.js';
import { receiveUpload } from './upload.js';

/** Bounds on uploads (`uploads` in the configuration). */
export interface UploadLimits {
  /** Uploads received at once; more are answered 503 with Retry-After. */
  maxConcurrent: number;
  /** An upload body that sends nothing for this long is abandoned (408). */
  idleTimeoutMs: number;
  /** Uploads per caller (token, or client address in the open mode). */
  rate: RateLimits;
}

/** The configuration's defaults, for apps built without a configuration (tests). */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxConcurrent: 16, idleTimeoutMs: 30_000, rate: { perMinute: 600, burst: 100 } };

/** Room for multipart framing when judging a Content-Length against a size limit. */
const MULTIPART_SLACK = 64 * 1024;

/** What the public routes need. */
export interface PublicRouteDeps {
  service: JobService;
  files: FileStore;
  auth: Authenticator;
  limits?: UploadLimits;
}

/** Reads and checks the `:id` route parameter. */
export function jobId(ctx: Context): string {
  const id = String(ctx.params.id ?? '');
  if (!isJobId(id)) throw invalidJobId(id);
  return id;
}

/**
 * The public API, compatible with the original: upload, result, link, job details. Every
 * route needs a token (unless the API is configured open): the authentication middleware is
 * mounted on this router, so it runs for its routes only and before any body is read.
 */
export function publicRoutes(deps: PublicRouteDeps): Router {
  const { service } = deps;
  const limits = deps.limits ?? DEFAULT_UPLOAD_LIMITS;
  // Case-sensitive; a trailing slash is tolerated as before (`/result/1/`): only the
  // internal router is strict, and the public one has no internal route to reach.
  const router = new Router({ sensitive: true, strict: false });
  router.use(authenticate(deps.auth));
  const rate = new RateLimiter(limits.rate);

  let active = 0;
  const upload = async (ctx: Context): Promise<void> => {
    authorize(ctx, 'submit');
    const principal = principalOf(ctx);
    // Beyond the bounds the body is not read at all (the error middleware closes the
    // connection): the client tries again later.
    rate.take(principal.kind === 'token' ? `token:${principal.tokenId}` : `addr:${ctx.request.socket.remoteAddress ?? ''}`);
    if (active >= limits.maxConcurrent) {
      throw new UnavailableError('TOO_MANY_UPLOADS', 'too many uploads at once; try again later');
    }
    active++;
    try {
      await receiveAndSubmit(ctx, deps, limits, ownerOf(principal));
    } catch (err) {
      // A refused body may still be arriving: do not read it to keep the connection.
      ctx.set('Connection', 'close');
      throw err;
    } finally {
      active--;
    }
  };
  router.post('/:engine/upload', upload);
  router.put('/:engine/upload', upload);

  router.get('/result/:id', async (ctx) => {
    ctx.body = await service.view(jobId(ctx), authorize(ctx, 'read'));
  });

  router.get('/link/:id', async (ctx) => {
    await sendLink(ctx, service, jobId(ctx), authorize(ctx, 'read'));
  });

  router.get('/jobs/:id/log', async (ctx) => {
    await sendLog(ctx, service, jobId(ctx), authorize(ctx, 'read'));
  });

  router.get('/jobs/:id', async (ctx) => {
    ctx.body = describeJob(await service.get(jobId(ctx), authorize(ctx, 'read')));
  });

  return router;
}

/** Answers with a finished job's result or error text, as an attachment (`/link/<id>`). */
export async function sendLink(ctx: Context, service: JobService, id: string, scope: JobScope): Promise<void> {
  const { stream, size, job } = await service.openLink(id, scope);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
  ctx.set('Content-Disposition', `attachment; filename="${job.status === STATUS.success ? 'result' : 'error'}-${id}"`);
  ctx.set('Cache-Control', 'private, no-store');
  ctx.type = 'application/octet-stream';
  ctx.length = size;
  ctx.body = stream;
}

/** Answers with a job's engine output as plain text (`/jobs/<id>/log`). */
export async function sendLog(ctx: Context, service: JobService, id: string, scope: JobScope): Promise<void> {
  const { stream, size } = await service.openLog(id, scope);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
  ctx.type = 'text/plain; charset=utf-8';
  ctx.length = size;
  ctx.body = stream;
}

/** Receives one upload and queues its job; the temporary file is gone whatever happens. */
async function receiveAndSubmit(ctx: Context, deps: PublicRouteDeps, limits: UploadLimits, owner: string | null): Promise<void> {
  const { service, files } = deps;
  const engine = service.engine(String(ctx.params.engine));
  const tooLarge = (): TooLargeError => new TooLargeError(`upload is larger than the limit of ${engine.sizelimit} bytes for engine ${engine.name}`);
  if (Number(ctx.get('content-length') || 0) > engine.sizelimit + MULTIPART_SLACK) throw tooLarge();
  let received;
  try {
    received = await receiveUpload(ctx.req, files, { field: 'upload', limit: engine.sizelimit, idleMs: limits.idleTimeoutMs });
  } catch (err) {
    throw err instanceof TooLargeError ? tooLarge() : err;
  }
  try {
    ctx.body = { jobid: await service.submit(engine, received.written, received.filename, owner) };
  } finally {
    await files.discard(received.written.path);
  }
}

/** The detailed public view of a job (`GET /jobs/<id>`). */
export function describeJob(job: Job): Record<string, unknown> {
  const done = isTerminal(job.status);
  return {
    jobid: job.id,
    engine: job.engine,
    filename: job.filename,
    size: job.size,
    sha256: job.sha256,
    status: job.status,
    reason: job.reason ?? '',
    summary: done ? job.summary : '',
    link: done ? `/link/${job.id}` : '',
    log: `/jobs/${job.id}/log`,
    attempts: job.attempts,
    created: job.createdAt.toISOString(),
    started: job.startedAt?.toISOString() ?? null,
    finished: job.finishedAt?.toISOString() ?? null,
    containment: job.containment ?? null,
  };
}

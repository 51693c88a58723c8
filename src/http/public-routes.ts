import Router from '@koa/router';
import type { Context } from 'koa';
import { invalidJobId, TooLargeError, UnavailableError } from '../errors.js';
import { isJobId, type Job } from '../jobs/job.js';
import type { JobService } from '../jobs/service.js';
import type { FileStore } from '../storage/file-store.js';
import { receiveUpload } from './upload.js';

/** Bounds on uploads (`uploads` in the configuration). */
export interface UploadLimits {
  /** Uploads received at once; more are answered 503 with Retry-After. */
  maxConcurrent: number;
  /** An upload body that sends nothing for this long is abandoned (408). */
  idleTimeoutMs: number;
}

/** The configuration's defaults, for apps built without a configuration (tests). */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxConcurrent: 16, idleTimeoutMs: 30_000 };

/** Room for multipart framing when judging a Content-Length against a size limit. */
const MULTIPART_SLACK = 64 * 1024;

/** Reads and checks the `:id` route parameter. */
export function jobId(ctx: Context): string {
  const id = String(ctx.params.id ?? '');
  if (!isJobId(id)) throw invalidJobId(id);
  return id;
}

/** The public API, compatible with the original: upload, result, link. */
export function publicRoutes(service: JobService, files: FileStore, limits: UploadLimits = DEFAULT_UPLOAD_LIMITS): Router {
  const router = new Router({ sensitive: true, strict: true });

  let active = 0;
  const upload = async (ctx: Context): Promise<void> => {
    // Beyond the bound the body is not read at all: the client tries again later.
    if (active >= limits.maxConcurrent) {
      ctx.set('Connection', 'close');
      throw new UnavailableError('TOO_MANY_UPLOADS', 'too many uploads at once; try again later');
    }
    active++;
    try {
      await receiveAndSubmit(ctx, service, files, limits);
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
    ctx.body = await service.view(jobId(ctx));
  });

  router.get('/link/:id', async (ctx) => {
    const id = jobId(ctx);
    const { stream, size, job } = await service.openLink(id);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
    ctx.set('Content-Disposition', `attachment; filename="${job.status === 'Success' ? 'result' : 'error'}-${id}"`);
    ctx.set('Cache-Control', 'private, no-store');
    ctx.type = 'application/octet-stream';
    ctx.length = size;
    ctx.body = stream;
  });

  router.get('/jobs/:id/log', async (ctx) => {
    const { stream, size } = await service.openLog(jobId(ctx));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
    ctx.type = 'text/plain; charset=utf-8';
    ctx.length = size;
    ctx.body = stream;
  });

  router.get('/jobs/:id', async (ctx) => {
    ctx.body = describeJob(await service.get(jobId(ctx)));
  });

  return router;
}

/** Receives one upload and queues its job; the temporary file is gone whatever happens. */
async function receiveAndSubmit(ctx: Context, service: JobService, files: FileStore, limits: UploadLimits): Promise<void> {
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
    ctx.body = { jobid: await service.submit(engine, received.written, received.filename) };
  } finally {
    await files.discard(received.written.path);
  }
}

/** The detailed public view of a job (`GET /jobs/<id>`). */
export function describeJob(job: Job): Record<string, unknown> {
  const done = job.status === 'Success' || job.status === 'Fail';
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

import Router from '@koa/router';
import type { Context } from 'koa';
import type { Authenticator } from '../auth/authenticator.js';
import { ownerOf } from '../auth/roles.js';
import { invalidJobId } from '../errors.js';
import type { KeyedJob } from '../jobs/idempotency.js';
import { isJobId, STATUS, type JobScope } from '../jobs/job.js';
import { describeJob } from '../jobs/record.js';
import { jobView, type JobService } from '../jobs/service.js';
import type { SubmitRequest, Submissions } from '../jobs/submission.js';
import type { FileStore } from '../storage/file-store.js';
import { authenticate, authorize, principalOf } from './auth.js';
import { readJob } from './long-poll.js';
import type { RateLimits } from './rate-limit.js';
import { receiveAndSubmit, submitOptions, UploadGate } from './submit-upload.js';

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
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { maxConcurrent: 16, idleTimeoutMs: 30_000, rate: { perMinute: 600, burst: 200 } };

/** What the public routes need. */
export interface PublicRouteDeps {
  service: JobService;
  files: FileStore;
  auth: Authenticator;
  limits?: UploadLimits;
  /** Submissions with the result cache and idempotency keys; without it, plain submissions. */
  submissions?: Submissions;
  /** Shared with the other upload routes (POST /api/v1/submissions); one is made if absent. */
  gate?: UploadGate;
  /** Allowed callback URL prefixes (webhooks.allowedPrefixes). */
  callbackPrefixes?: readonly string[];
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
  const gate = deps.gate ?? new UploadGate(limits.maxConcurrent, limits.rate);
  const submit = submitter(deps);

  const upload = async (ctx: Context): Promise<void> => {
    authorize(ctx, 'submit');
    const owner = ownerOf(principalOf(ctx));
    await gate.run(ctx, async () => {
      const engine = service.engine(String(ctx.params.engine));
      const options = submitOptions(ctx, deps.callbackPrefixes ?? []);
      const [job] = await receiveAndSubmit(ctx, { files: deps.files, submit, idleMs: limits.idleTimeoutMs, uploaded: gate.uploaded }, [engine], options, owner);
      ctx.body = { jobid: job?.jobid };
    });
  };
  router.post('/:engine/upload', upload);
  router.put('/:engine/upload', upload);

  router.get('/result/:id', async (ctx) => {
    ctx.body = jobView(await readJob(ctx, service, jobId(ctx), authorize(ctx, 'read')));
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

/** How uploads become jobs: through Submissions, or (apps built without it) one plain job. */
export function submitter(deps: Pick<PublicRouteDeps, 'service' | 'submissions'>): (r: SubmitRequest) => Promise<KeyedJob[]> {
  if (deps.submissions) {
    const { submissions } = deps;
    return (r) => submissions.submit(r);
  }
  return async (r) => {
    const jobs: KeyedJob[] = [];
    for (const [i, e] of r.engines.entries()) {
      const take = i === r.engines.length - 1;
      jobs.push({ engine: e.name, jobid: await deps.service.submit(e, r.upload, r.filename, r.owner, { callback: r.callback, take }), cached: false });
    }
    return jobs;
  };
}


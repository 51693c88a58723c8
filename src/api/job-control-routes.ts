import Router from '@koa/router';
import type { Context } from 'koa';
import type { Authenticator } from '../auth/authenticator.js';
import { ownerOf, type Principal } from '../auth/roles.js';
import type { Engine } from '../engines/engines.js';
import { InvalidError } from '../errors.js';
import type { JobControl } from '../jobs/control.js';
import type { Job } from '../jobs/job.js';
import type { JobService } from '../jobs/service.js';
import type { Submissions } from '../jobs/submission.js';
import type { FileStore } from '../storage/file-store.js';
import { checkCallback } from '../webhooks/callback.js';
import { authenticate, authorize, principalOf } from '../http/auth.js';
import { describeJob, jobId } from '../http/public-routes.js';
import { one, receiveAndSubmit, submitOptions, type UploadGate } from '../http/submit-upload.js';

/** What the job-control routes need. */
export interface JobControlRouteDeps {
  service: JobService;
  control: JobControl;
  submissions: Submissions;
  files: FileStore;
  auth: Authenticator;
  /** The upload bounds shared with /<engine>/upload. */
  gate: UploadGate;
  idleTimeoutMs: number;
  callbackPrefixes: readonly string[];
}

/** The most engines one submission may name. */
export const MAX_SUBMISSION_ENGINES = 32;

/**
 * The job record of API v1. A local minimal builder until the read side's
 * src/api/job-record.ts is merged (the lead replaces this with it).
 */
export function jobRecord(job: Job): Record<string, unknown> {
  return { ...describeJob(job), owner: job.owner, cached: job.cached, retryOf: job.retryOf, imageDigest: job.imageDigest };
}

/** Who did it, for a cancelled job's error text. */
function who(p: Principal): string {
  return p.kind === 'token' ? `token "${p.name}" (${p.owner})` : 'a client of the open API';
}

/** The `engines` query of a submission: known engine names, comma-separated, each once. */
export function parseEngines(raw: string | undefined, lookup: (name: string) => Engine): Engine[] {
  const names = (raw ?? '').split(',').map((n) => n.trim());
  if (names.length === 0 || names.some((n) => n === '')) {
    throw new InvalidError('INVALID_ENGINES', 'engines must name one or more engines, comma-separated (engines=md5,yara)');
  }
  if (new Set(names).size !== names.length) throw new InvalidError('INVALID_ENGINES', 'engines names an engine more than once');
  if (names.length > MAX_SUBMISSION_ENGINES) throw new InvalidError('INVALID_ENGINES', `at most ${MAX_SUBMISSION_ENGINES} engines per submission`);
  return names.map(lookup);
}

/**
 * API v1 job control: cancel, retry, and submissions to several engines. Every route needs a
 * token (the authentication middleware is on this router); all of it is checked before any
 * upload body is read.
 */
export function jobControlRoutes(d: JobControlRouteDeps): Router {
  const router = new Router({ prefix: '/api/v1', sensitive: true, strict: false });
  router.use(authenticate(d.auth));

  router.post('/jobs/:id/cancel', async (ctx) => {
    const id = jobId(ctx);
    const scope = authorize(ctx, 'cancel');
    ctx.body = jobRecord(await d.control.cancel(id, scope, who(principalOf(ctx))));
  });

  router.post('/jobs/:id/retry', async (ctx) => {
    const id = jobId(ctx);
    const scope = authorize(ctx, 'cancel');
    authorize(ctx, 'submit');
    const callback = checkCallback(one(ctx, 'callback'), d.callbackPrefixes);
    // A retry creates a job like an upload: the same per-token rate applies.
    await d.gate.run(ctx, async () => {
      ctx.body = { jobid: await d.control.retry(id, scope, ownerOf(principalOf(ctx)), callback) };
      ctx.status = 201;
    });
  });

  router.post('/submissions', async (ctx: Context) => {
    authorize(ctx, 'submit');
    const owner = ownerOf(principalOf(ctx));
    await d.gate.run(ctx, async () => {
      const engines = parseEngines(one(ctx, 'engines'), (n) => d.service.engine(n));
      const options = submitOptions(ctx, d.callbackPrefixes);
      const jobs = await receiveAndSubmit(ctx, { files: d.files, submit: (r) => d.submissions.submit(r), idleMs: d.idleTimeoutMs }, engines, options, owner);
      ctx.status = 201;
      ctx.body = { jobs };
    });
  });
  return router;
}

import Router from '@koa/router';
import type { Context } from 'koa';
import { ownerOf, type Principal } from '../auth/roles.js';
import type { Engine } from '../engines/engines.js';
import { InvalidError } from '../errors.js';
import { authorize, principalOf } from '../http/auth.js';
import { jobId } from '../http/public-routes.js';
import { one, receiveAndSubmit, submitOptions, type UploadGate } from '../http/submit-upload.js';
import type { JobControl } from '../jobs/control.js';
import type { JobService } from '../jobs/service.js';
import type { Submissions } from '../jobs/submission.js';
import type { FileStore } from '../storage/file-store.js';
import { checkCallback } from '../webhooks/callback.js';
import { jobRecord } from '../jobs/record.js';

/** What the job-control routes need besides the service (ApiDeps.jobControl). */
export interface JobControlDeps {
  control: JobControl;
  submissions: Submissions;
  files: FileStore;
  /** The upload bounds shared with /<engine>/upload. */
  gate: UploadGate;
  idleTimeoutMs: number;
  callbackPrefixes: readonly string[];
}

/** The most engines one submission may name. */
export const MAX_SUBMISSION_ENGINES = 32;

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
 * API v1 job control (an API_MODULES entry, mounted under /api/v1 behind the token check):
 * cancel, retry, and submissions to several engines. Everything is checked before any upload
 * body is read.
 */
export function jobControlRoutes(deps: { service: JobService; jobControl?: JobControlDeps }): Router {
  const router = new Router({ sensitive: true, strict: false });
  const d = (): JobControlDeps => {
    if (!deps.jobControl) throw new Error('the job-control routes were mounted without their dependencies (ApiDeps.jobControl)');
    return deps.jobControl;
  };

  router.post('/jobs/:id/cancel', async (ctx) => {
    const id = jobId(ctx);
    const scope = authorize(ctx, 'cancel');
    ctx.body = jobRecord(await d().control.cancel(id, scope, who(principalOf(ctx))));
  });

  router.post('/jobs/:id/retry', async (ctx) => {
    const id = jobId(ctx);
    const scope = authorize(ctx, 'cancel');
    authorize(ctx, 'submit');
    const callback = checkCallback(one(ctx, 'callback'), d().callbackPrefixes);
    // A retry creates a job like an upload: the same per-token rate applies.
    await d().gate.run(ctx, async () => {
      ctx.body = { jobid: await d().control.retry(id, scope, ownerOf(principalOf(ctx)), callback) };
      ctx.status = 201;
    });
  });

  router.post('/submissions', async (ctx: Context) => {
    authorize(ctx, 'submit');
    const owner = ownerOf(principalOf(ctx));
    const jc = d();
    await jc.gate.run(ctx, async () => {
      const engines = parseEngines(one(ctx, 'engines'), (n) => deps.service.engine(n));
      const options = submitOptions(ctx, jc.callbackPrefixes);
      const jobs = await receiveAndSubmit(ctx, { files: jc.files, submit: (r) => jc.submissions.submit(r), idleMs: jc.idleTimeoutMs, uploaded: jc.gate.uploaded }, engines, options, owner);
      ctx.status = 201;
      ctx.body = { jobs };
    });
  });
  return router;
}

import type { Context } from 'koa';
import { InvalidError } from '../errors.js';
import { readWhenEnded } from '../jobs/job-watch.js';
import type { Job, JobScope } from '../jobs/job.js';
import type { JobService } from '../jobs/service.js';

/** The longest `?wait=` allowed, in seconds (below common proxies' idle timeouts). */
export const MAX_WAIT_SECONDS = 60;

/** The `wait` query parameter in milliseconds: 0 when absent; a 400 unless 0–60 whole seconds, once. */
export function waitParam(ctx: Context): number {
  const raw = ctx.query.wait;
  if (raw === undefined) return 0;
  if (typeof raw !== 'string' || !/^[0-9]{1,2}$/.test(raw) || Number(raw) > MAX_WAIT_SECONDS) {
    throw new InvalidError('INVALID_PARAMETER', `wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}, given once`);
  }
  return Number(raw) * 1000;
}

/**
 * The job, read at once, or with `?wait=N` once it has ended or N seconds have passed
 * (whichever is first; the answer is the same shape either way, so a client looks at its
 * status). A client that leaves stops the wait.
 */
export async function readJob(ctx: Context, service: JobService, id: string, scope: JobScope): Promise<Job> {
  const ms = waitParam(ctx);
  if (ms === 0) return service.get(id, scope);
  const left = new AbortController();
  const onClose = (): void => left.abort();
  ctx.res.once('close', onClose);
  try {
    return await readWhenEnded(service.watch, id, ms, () => service.get(id, scope), left.signal);
  } finally {
    ctx.res.off('close', onClose);
  }
}

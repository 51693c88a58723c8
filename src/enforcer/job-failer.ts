import { CALLS, checkResponse, HEADERS, isJobId, pathOf, REASON_LIMIT, type FailRequest } from '../contract/index.js';
import { withFields, type Log } from './log.js';

/** Where the frontend's internal API is, if the enforcer should tell it about kills. */
export interface FrontendTarget {
  readonly url: string;
  readonly internalToken?: string;
  readonly timeoutMs: number;
}

/**
 * The job a warm-pool container runs (it carries no job label: the worker recorded it with
 * the frontend before starting it); undefined when the frontend knows none or cannot say.
 */
export async function jobOfContainer(target: FrontendTarget, containerId: string, log: Log): Promise<{ jobid: string; engine: string; attempts: number } | undefined> {
  try {
    const res = await fetch(`${target.url.replace(/\/+$/, '')}${pathOf('containerJob', containerId)}`, {
      headers: target.internalToken ? { [HEADERS.authorization]: `Bearer ${target.internalToken}` } : {},
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    const checked = checkResponse(res.ok ? 'containerJob' : 'error', await res.json().catch(() => undefined));
    if (res.ok && checked.ok) return checked.value as { jobid: string; engine: string; attempts: number };
    log('warn', 'the frontend names no job for the warm-pool container', { container: containerId.slice(0, 12), status: res.status });
  } catch (err) {
    log('warn', 'could not ask the frontend which job a warm-pool container runs', { container: containerId.slice(0, 12), error: (err as Error).message });
  }
  return undefined;
}

/**
 * Tells the frontend a job's container is about to be killed for policy, so the job fails with
 * "killed by policy: <rule>" (the contract's `fail` call, without a lease). Bounded by a
 * timeout; any failure is logged, never thrown.
 */
export async function failJob(target: FrontendTarget, jobId: string, rule: string, detail: string, jobLog: Log): Promise<boolean> {
  // Every line names the job (the caller adds its engine and attempt from the container's labels).
  const log = withFields(jobLog, { jobid: jobId.slice(0, 40) });
  if (!isJobId(jobId)) {
    log('warn', 'not telling the frontend: the container\'s job label is not a job id', { rule });
    return false;
  }
  const request: FailRequest = { reason: `killed by policy: ${rule}`.slice(0, REASON_LIMIT), detail };
  try {
    const res = await fetch(`${target.url.replace(/\/+$/, '')}${pathOf('fail', jobId)}`, {
      method: CALLS.fail.method,
      headers: { 'content-type': 'application/json', ...(target.internalToken ? { [HEADERS.authorization]: `Bearer ${target.internalToken}` } : {}) },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    const answer = await res.json().catch(() => undefined);
    const checked = checkResponse(res.ok ? 'fail' : 'error', answer);
    if (!checked.ok) log('warn', 'the frontend answered outside the contract', { status: res.status, problems: checked.problems });
    if (!res.ok) log('warn', 'frontend refused the job failure', { rule, status: res.status });
    return res.ok && checked.ok;
  } catch (err) {
    log('warn', 'could not tell the frontend about a policy kill', { rule, error: (err as Error).message });
    return false;
  }
}

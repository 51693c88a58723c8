import type { Log } from './log.js';

/** Where the frontend's internal API is, if the enforcer should tell it about kills. */
export interface FrontendTarget {
  readonly url: string;
  readonly internalToken?: string;
  readonly timeoutMs: number;
}

/**
 * Tells the frontend a job's container is about to be killed for policy, so the job fails with
 * "killed by policy: <rule>". Bounded by a timeout; any failure is logged, never thrown.
 */
export async function failJob(target: FrontendTarget, jobId: string, rule: string, detail: string, log: Log): Promise<boolean> {
  const url = `${target.url.replace(/\/+$/, '')}/internal/jobs/${encodeURIComponent(jobId)}/fail`;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(target.internalToken ? { authorization: `Bearer ${target.internalToken}` } : {}) },
      body: JSON.stringify({ reason: `killed by policy: ${rule}`, detail }),
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) log('warn', 'frontend refused the job failure', { jobId, rule, status: res.status });
    return res.ok;
  } catch (err) {
    log('warn', 'could not tell the frontend about a policy kill', { jobId, rule, error: (err as Error).message });
    return false;
  }
}

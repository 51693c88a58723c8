/** A dependency check: resolves when the dependency answers, rejects (or hangs) when it does not. */
export type Check = () => Promise<unknown>;

/** How one check ended; only these words reach the answer (never a driver message). */
export type CheckResult = 'ok' | 'failed' | 'timeout';

/** What `/readyz` answers: 200 with status "ready", or 503 with status "not ready". */
export interface Readiness {
  status: 'ready' | 'not ready';
  checks: Record<string, CheckResult>;
}

/** How long one check may take before it counts as failed: a hung dependency gives 503, not a hang. */
export const CHECK_TIMEOUT_MS = 2000;

/** Runs every check at once, each bounded by `timeoutMs`; ready only if all answered. */
export async function checkReadiness(checks: Readonly<Record<string, Check>>, timeoutMs = CHECK_TIMEOUT_MS): Promise<Readiness> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => bounded(checks[name] as Check, timeoutMs)));
  const out: Record<string, CheckResult> = {};
  names.forEach((name, i) => (out[name] = results[i] as CheckResult));
  return { status: results.every((r) => r === 'ok') ? 'ready' : 'not ready', checks: out };
}

async function bounded(check: Check, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const run = Promise.resolve().then(check).then(() => 'ok' as const, () => 'failed' as const);
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

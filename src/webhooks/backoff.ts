/** The first retry's delay; each later one doubles, up to the cap. */
export const FIRST_RETRY_MS = 5_000;
export const MAX_RETRY_MS = 3600_000;

/**
 * When to try a delivery again after `attempts` failed ones: exponential (5 s, 10 s, 20 s, …
 * capped at an hour) with up to 20 % jitter, so receivers coming back are not hit at once;
 * null once `maxAttempts` are spent (the delivery is given up). `random` is injectable for tests.
 */
export function nextAttemptDelay(attempts: number, maxAttempts: number, random: () => number = Math.random,
  firstMs = FIRST_RETRY_MS): number | null {
  if (attempts >= maxAttempts) return null;
  const base = Math.min(firstMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
  return Math.round(base * (1 + 0.2 * random()));
}

import { AppError } from '../errors.js';

/** Upload rate per caller: a token bucket refilled at `perMinute`, holding at most `burst`. */
export interface RateLimits {
  perMinute: number;
  burst: number;
}

/** How many callers' buckets are kept before full ones are forgotten. */
const MAX_BUCKETS = 10_000;

/**
 * Token buckets keyed by caller (a token id; the client address in the open mode). `take`
 * spends one or throws RATE_LIMITED with the seconds until one is available.
 */
export class RateLimiter {
  readonly #limits: RateLimits;
  readonly #buckets = new Map<string, { level: number; at: number }>();
  readonly #now: () => number;

  constructor(limits: RateLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Spends one request of `key`'s bucket; throws a RateLimitedError if it is empty. */
  take(key: string): void {
    const now = this.#now();
    const perMs = this.#limits.perMinute / 60_000;
    const b = this.#buckets.get(key) ?? { level: this.#limits.burst, at: now };
    b.level = Math.min(this.#limits.burst, b.level + (now - b.at) * perMs);
    b.at = now;
    if (b.level < 1) {
      this.#buckets.set(key, b);
      throw new RateLimitedError(Math.max(1, Math.ceil((1 - b.level) / perMs / 1000)));
    }
    b.level -= 1;
    this.#buckets.set(key, b);
    if (this.#buckets.size > MAX_BUCKETS) this.#forgetFull(now, perMs);
  }

  #forgetFull(now: number, perMs: number): void {
    for (const [k, b] of this.#buckets) if (b.level + (now - b.at) * perMs >= this.#limits.burst) this.#buckets.delete(k);
  }
}

/** Too many uploads from one caller; `Retry-After` says when to try again. */
export class RateLimitedError extends AppError {
  constructor(retryAfter: number) {
    super('RATE_LIMITED', `too many uploads from this caller; try again in ${retryAfter} s`, { retryAfter });
  }
}

import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log/logger.js';

/** The services a worker depends on, besides the broker (whose loss the consumer handles). */
export type Dependency = 'docker' | 'frontend';

/** Answers (resolves) when a dependency can be used again; throws while it cannot. */
export type Probe = () => Promise<unknown>;

export interface BreakerOptions {
  probes: Record<Dependency, Probe>;
  log: Logger;
  /** First pause between probes; doubled after each failed one up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A probe that does not answer within this long counts as failed. */
  probeTimeoutMs?: number;
}

/**
 * The circuit breaker of a menage: once a worker finds Docker or the frontend away, the
 * breaker opens and every consumer stops taking work (`open` event) until probes, paced by
 * a capped exponential backoff, find each dependency back (`close` event). Jobs are not
 * tried against a dependency known to be down, so an outage spends no attempts.
 */
export class Breaker extends EventEmitter {
  readonly #o: Required<BreakerOptions>;
  readonly #down = new Set<Dependency>();
  readonly #stop = new AbortController();
  #probing: Promise<void> | undefined;

  constructor(options: BreakerOptions) {
    super();
    this.#o = { minDelayMs: 1000, maxDelayMs: 30_000, probeTimeoutMs: 5000, ...options };
  }

  /** True while some dependency is known to be down. */
  get isOpen(): boolean {
    return this.#down.size > 0;
  }

  /** The dependencies known to be down. */
  get down(): Dependency[] {
    return [...this.#down];
  }

  /**
   * Asks whether `dep` answers now; if it does not, opens the breaker. Workers call this
   * after a failure to tell an outage (true) from a failure of the job itself.
   */
  async isDown(dep: Dependency): Promise<boolean> {
    if (this.#down.has(dep)) return true;
    if (await this.#answers(dep)) return false;
    this.trip(dep, 'it does not answer');
    return true;
  }

  /** Opens the breaker for `dep` and starts probing it. */
  trip(dep: Dependency, why: string): void {
    if (this.#stop.signal.aborted || this.#down.has(dep)) return;
    const wasOpen = this.isOpen;
    this.#down.add(dep);
    this.#o.log.warn({ dependency: dep, why }, `circuit open: ${dep} is unavailable (${why}); taking no work until it answers again`);
    if (!wasOpen) this.emit('open');
    this.#ensureProbing();
  }

  #ensureProbing(): void {
    if (this.#probing) return;
    this.#probing = this.#probe().finally(() => {
      this.#probing = undefined;
      // A trip between the end of the loop and now must not be left without a prober.
      if (this.#down.size > 0 && !this.#stop.signal.aborted) this.#ensureProbing();
    });
  }

  /**
   * Resolves once the breaker is closed (or `dep`, if given, answers again), or when
   * `signal` aborts or `limitMs` passes; true if it is closed (or `dep` is back).
   */
  async waitClosed(signal: AbortSignal, limitMs: number, dep?: Dependency): Promise<boolean> {
    const until = Date.now() + limitMs;
    const waiting = (): boolean => (dep ? this.#down.has(dep) : this.isOpen);
    while (waiting() && !signal.aborted && Date.now() < until) {
      await sleep(Math.min(100, Math.max(1, until - Date.now())), undefined, { signal }).catch(() => undefined);
    }
    return !waiting();
  }

  async #probe(): Promise<void> {
    let delay = this.#o.minDelayMs;
    const since = Date.now();
    while (this.#down.size > 0 && !this.#stop.signal.aborted) {
      await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      for (const dep of [...this.#down]) {
        if (this.#stop.signal.aborted || !(await this.#answers(dep))) continue;
        this.#down.delete(dep);
        this.#o.log.info({ dependency: dep }, `${dep} answers again after ${Math.round((Date.now() - since) / 1000)} s`);
      }
      delay = Math.min(delay * 2, this.#o.maxDelayMs);
    }
    if (!this.#stop.signal.aborted && this.#down.size === 0) {
      this.#o.log.info('circuit closed: taking work again');
      this.emit('close');
    }
  }

  async #answers(dep: Dependency): Promise<boolean> {
    const timeout = AbortSignal.timeout(this.#o.probeTimeoutMs);
    const timedOut = new Promise<never>((_, reject) => timeout.addEventListener('abort', () => reject(new Error('probe timed out')), { once: true }));
    return Promise.race([this.#o.probes[dep](), timedOut]).then(() => true, () => false);
  }

  /** Stops probing; safe to call twice. */
  close(): void {
    this.#stop.abort();
  }
}

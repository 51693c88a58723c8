import { UnavailableError } from '../errors.js';
import { isTerminal, type Job } from './job.js';

/** One armed wait: `woken` resolves on the job's end, the timeout, an abort or close. */
export interface Wake {
  woken: Promise<void>;
  /** Stops waiting (the caller answered without it); `woken` resolves. */
  disarm(): void;
}

/** Waits allowed at once by default; more are refused (503 OVERLOADED), not queued. */
export const DEFAULT_MAX_WAITS = 1000;

/**
 * Who is waiting for which job to end (long-polled reads: `?wait=` on `/result/<id>` and
 * `/api/v1/jobs/<id>`). The job store calls `ended` when a change it applied ends a job; a
 * waiter arms before it reads the job, so an end between the read and the wait still wakes
 * it. Process-local: a waiter also wakes after its timeout and reads again, which covers a
 * job ended elsewhere.
 */
export class JobWatch {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #max: number;
  #count = 0;
  #closed = false;

  constructor(max = DEFAULT_MAX_WAITS) {
    this.#max = max;
  }

  /** Waits armed now. */
  get waiting(): number {
    return this.#count;
  }

  /** True once closed: waits resolve at once (the process is stopping). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Arms a wait for job `id` of at most `ms`; an aborted `signal` (the client left) ends it.
   * Throws 503 OVERLOADED when `max` waits are armed already.
   */
  arm(id: string, ms: number, signal?: AbortSignal): Wake {
    if (this.#closed || signal?.aborted || ms <= 0) return { woken: Promise.resolve(), disarm: () => undefined };
    if (this.#count >= this.#max) {
      throw new UnavailableError('OVERLOADED', `${this.#max} requests are waiting for jobs already; try again shortly`, { retryAfter: 1 });
    }
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      let done = false;
      wake = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', wake);
        const set = this.#waiters.get(id);
        set?.delete(wake);
        if (set?.size === 0) this.#waiters.delete(id);
        this.#count--;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal?.addEventListener('abort', wake, { once: true });
    });
    const set = this.#waiters.get(id) ?? new Set();
    set.add(wake);
    this.#waiters.set(id, set);
    this.#count++;
    return { woken, disarm: wake };
  }

  /** Job `id` ended: wakes its waiters. */
  ended(id: string): void {
    for (const wake of [...(this.#waiters.get(id) ?? [])]) wake();
  }

  /** Wakes every waiter, and makes later waits resolve at once. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#waiters.values()]) for (const wake of [...set]) wake();
  }
}

/** A waiter reads its job again at least this often (a job ended by another process). */
export const RECHECK_MS = 5000;

/**
 * Reads the job (`read`) until it has ended, `ms` have passed, the client left (`signal`) or
 * the watch closed; returns the last read. The wait is armed before each read, so an end in
 * between is not missed. `read` throws as usual (404, 503): nothing is waited for then.
 */
export async function readWhenEnded(watch: JobWatch, id: string, ms: number, read: () => Promise<Job>, signal?: AbortSignal): Promise<Job> {
  const until = performance.now() + ms;
  for (;;) {
    const left = until - performance.now();
    const wake = watch.arm(id, Math.min(left, RECHECK_MS), signal);
    let job: Job;
    try {
      job = await read();
    } catch (err) {
      wake.disarm();
      throw err;
    }
    if (isTerminal(job.status) || left <= 0 || watch.closed || signal?.aborted) {
      wake.disarm();
      return job;
    }
    await wake.woken;
  }
}

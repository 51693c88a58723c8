import { setTimeout as sleep } from 'node:timers/promises';
import { STATUS } from './job.js';
import type { JobService } from './service.js';
import type { JobStore } from './store.js';
import { jobLogger, type Logger } from '../log/logger.js';

export interface ReaperOptions {
  store: JobStore;
  service: JobService;
  intervalMs: number;
  /** How long a first submission may stay unconfirmed before it counts as cut short. */
  unqueuedGraceMs: number;
  log: Logger;
  /** Waiting jobs first handed back by an outage longer ago than this fail (see JobService.release). */
  infrastructureTimeoutMs?: number;
  /**
   * After the reaper starts or the database comes back, expired leases are left alone this
   * long: workers could not renew them while the frontend or the database was away, and
   * their next heartbeat renews them. Usually one lease period.
   */
  settleMs?: number;
}

/**
 * Periodically finds jobs whose lease expired or whose message is not in the broker, and
 * requeues, fails or removes them (JobService.reap), so that no job stays Received or
 * Running forever. Scans never overlap.
 */
export class Reaper {
  readonly #o: ReaperOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Since when scans have succeeded without a break. */
  #healthySince = Date.now();
  #failing = false;

  constructor(options: ReaperOptions) {
    this.#o = options;
  }

  /** Starts the periodic scan. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** One scan: returns how many jobs were requeued and failed. */
  async scan(): Promise<{ requeued: number; failed: number; removed: number }> {
    const counts = { requeued: 0, failed: 0, removed: 0 };
    const found = await this.#o.store.listReapable(new Date(Date.now() - this.#o.unqueuedGraceMs), 100,
      new Date(Date.now() - (this.#o.infrastructureTimeoutMs ?? 1800_000))).catch((err: unknown) => {
      this.#failing = true;
      throw err;
    });
    if (this.#failing) this.#healthySince = Date.now();
    this.#failing = false;
    const settling = Date.now() < this.#healthySince + (this.#o.settleMs ?? 0);
    for (const job of found) {
      if (settling && job.status === STATUS.running) continue;
      try {
        const outcome = await this.#o.service.reap(job);
        if (outcome !== 'skipped') {
          counts[outcome]++;
          jobLogger(this.#o.log, { jobid: job.id, engine: job.engine, attempt: job.attempts })
            .warn({ status: job.status, outcome }, `reaper: job ${job.id} (${job.status}, attempt ${job.attempts}) ${outcome}`);
        }
      } catch (err) {
        jobLogger(this.#o.log, { jobid: job.id, engine: job.engine, attempt: job.attempts }).error({ err }, `reaper: job ${job.id}: ${(err as Error).message}`);
      }
    }
    return counts;
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      await this.scan().catch((err: Error) => this.#o.log.error({ err }, `reaper: scan failed: ${err.message}`));
      await sleep(this.#o.intervalMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    }
  }

  /** Stops scanning; safe to call twice. */
  close(): Promise<void> {
    this.#stop.abort();
    this.#closing ??= this.#loop ?? Promise.resolve();
    return this.#closing;
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { JobService } from './service.js';
import type { JobStore } from './store.js';

export interface ReaperOptions {
  store: JobStore;
  service: JobService;
  intervalMs: number;
  /** How long a Received job may wait before its message is presumed lost. */
  receivedGraceMs: number;
  log: (line: string) => void;
}

/**
 * Periodically finds jobs that are not finished past their deadline and requeues or fails
 * them, so that no job stays Received or Running forever. Scans never overlap.
 */
export class Reaper {
  readonly #o: ReaperOptions;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: ReaperOptions) {
    this.#o = options;
  }

  /** Starts the periodic scan. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** One scan: returns how many jobs were requeued and failed. */
  async scan(): Promise<{ requeued: number; failed: number }> {
    const counts = { requeued: 0, failed: 0 };
    const now = Date.now();
    const overdue = [
      ...(await this.#o.store.listOverdue(['Running'], new Date(now))),
      ...(await this.#o.store.listOverdue(['Received'], new Date(now - this.#o.receivedGraceMs))),
    ];
    for (const job of overdue) {
      try {
        const outcome = await this.#o.service.reap(job);
        if (outcome !== 'skipped') {
          counts[outcome]++;
          this.#o.log(`reaper: job ${job.id} (${job.status}, attempt ${job.attempts}) ${outcome}`);
        }
      } catch (err) {
        this.#o.log(`reaper: job ${job.id}: ${(err as Error).message}`);
      }
    }
    return counts;
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      await this.scan().catch((err: Error) => this.#o.log(`reaper: scan failed: ${err.message}`));
      await sleep(this.#o.intervalMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    }
  }

  /** Stops scanning; safe to call twice. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}

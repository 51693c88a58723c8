import type { Log } from './log.js';
import type { Scanner } from './scanner.js';

/** Runs a full scan every interval (optionally at once); a scan never overlaps the next. */
export class PeriodicScan {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly scanner: Scanner,
    private readonly opts: { intervalMs: number; immediate: boolean },
    private readonly log: Log,
  ) {}

  /** Starts the loop. */
  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    if (!this.opts.immediate) await sleep(this.opts.intervalMs, signal);
    while (!signal.aborted) {
      try {
        await this.scanner.scanAll(signal);
      } catch (err) {
        if (!signal.aborted) this.log('error', 'periodic scan failed', { error: (err as Error).message });
      }
      await sleep(this.opts.intervalMs, signal);
    }
  }

  /** Stops the loop and waits for a scan in progress; safe to call twice. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

/** Resolves after ms, or at once when the signal aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

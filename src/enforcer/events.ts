import type Docker from 'dockerode';
import type { Log } from './log.js';
import { sleep } from './periodic.js';
import type { EnforcerMetrics } from './prometheus.js';
import type { Scanner } from './scanner.js';

const ACTIONS = ['start', 'update', 'rename'];

/**
 * Follows the Docker event stream (container start, update, rename) and has each named
 * container checked. A broken stream is reconnected with backoff, then every container is
 * rechecked, since events may have been missed meanwhile.
 */
export class EventWatcher {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stream: NodeJS.ReadableStream | undefined;
  private readonly pending = new Set<string>();
  private flushing: Promise<void> | undefined;
  /** How many times the stream has connected (tests wait for a reconnection). */
  connections = 0;

  constructor(
    private readonly deps: { docker: Docker; scanner: Scanner; log: Log; metrics: EnforcerMetrics; backoffMs?: number },
  ) {}

  /** Starts following events. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Breaks the current stream as a network fault would (for fault tests and operators). */
  breakStream(): void {
    (this.stream as unknown as { destroy?: (e?: Error) => void } | undefined)?.destroy?.(new Error('stream broken on purpose'));
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const stream = (await this.deps.docker.getEvents({ filters: { type: ['container'], event: ACTIONS }, abortSignal: signal } as object)) as NodeJS.ReadableStream;
        this.stream = stream;
        this.connections += 1;
        if (this.connections > 1) {
          this.deps.metrics.reconnects.inc();
          this.deps.log('info', 'event stream reconnected; rechecking every container');
          this.enqueue(undefined);
        }
        await this.follow(stream, signal);
      } catch (err) {
        if (!signal.aborted) this.deps.log('warn', 'event stream failed', { error: (err as Error).message });
      }
      this.stream = undefined;
      if (!signal.aborted) this.deps.log('warn', 'event stream ended; reconnecting');
      await sleep(this.deps.backoffMs ?? 1000, signal);
    }
  }

  private follow(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let buffered = '';
      const finish = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => (stream as unknown as { destroy: () => void }).destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) this.onLine(line);
      });
      stream.on('end', finish);
      stream.on('close', finish);
      stream.on('error', (err: Error) => {
        if (!signal.aborted) this.deps.log('warn', 'event stream error', { error: err.message });
        finish();
      });
    });
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    try {
      const e = JSON.parse(line) as { Type?: string; Action?: string; Actor?: { ID?: string } };
      if (e.Type === 'container' && e.Actor?.ID && ACTIONS.some((a) => e.Action?.startsWith(a))) this.enqueue(e.Actor.ID);
    } catch {
      this.deps.log('warn', 'unreadable docker event', { line: line.slice(0, 200) });
    }
  }

  /** Queues a container (or undefined: all) for a settings check; bursts are coalesced. */
  private enqueue(id: string | undefined): void {
    this.pending.add(id ?? '*');
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0 && !this.abort.signal.aborted) {
      const ids = [...this.pending];
      this.pending.clear();
      try {
        await this.deps.scanner.checkSettings(ids.includes('*') ? undefined : ids, this.abort.signal);
      } catch (err) {
        this.deps.log('error', 'event check failed', { error: (err as Error).message });
      }
    }
  }

  /** Stops following events; safe to call twice. */
  async close(): Promise<void> {
    this.abort.abort();
    this.breakStream();
    await this.loop;
    await this.flushing;
  }
}

import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { modelFromInspect, type ContainerModel } from './container-model.js';
import type { DetectionLog } from './detections.js';
import type { Source } from './fields.js';
import type { Judge } from './judge.js';
import type { Log } from './log.js';
import type { EnforcerMetrics } from './prometheus.js';
import { computeMetrics, cpuSample, type ContainerMetrics, type CpuSample, type RawStats } from './stats.js';

/** What a scanner needs. */
export interface ScannerDeps {
  readonly docker: Docker;
  readonly judge: Judge;
  readonly detections: DetectionLog;
  readonly metrics: EnforcerMetrics;
  readonly log: Log;
  readonly stats: { readonly concurrency: number; readonly timeoutSeconds: number };
}

/**
 * Inspects running containers (and samples their stats when rules need metrics) and hands
 * each to the judge. Scans never overlap: each waits for the previous one.
 */
export class Scanner {
  private readonly cpu = new Map<string, CpuSample>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ScannerDeps) {}

  /** A full scan of every running container (the periodic source). */
  scanAll(signal?: AbortSignal): Promise<void> {
    return this.serial(() => this.run('periodic', undefined, signal));
  }

  /** Checks the given containers' settings, or every container's (the event source). */
  checkSettings(ids: readonly string[] | undefined, signal?: AbortSignal): Promise<void> {
    return this.serial(() => this.run('event', ids ? new Set(ids) : undefined, signal));
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async run(source: Source, only: Set<string> | undefined, signal?: AbortSignal): Promise<void> {
    const started = performance.now();
    const periodic = source === 'periodic';
    if (periodic) this.deps.detections.beginScan();
    try {
      const models = await this.inspectRunning(signal);
      const order = [...models].sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
      const targets = only ? models.filter((m) => [...only].some((id) => m.id.startsWith(id))) : models;
      const stats = periodic && this.deps.judge.currentRules().usesMetrics ? await this.sampleAll(targets, signal) : new Map();
      await mapLimit(targets, this.deps.stats.concurrency, async (c) => {
        if (signal?.aborted) return;
        const host = { running: models.length, startPosition: order.indexOf(c) + 1 };
        const metrics = stats.get(c.id);
        await this.deps.judge.judgeRunning({ source, container: c, host, ...(metrics ? { metrics } : {}) }, signal);
      });
      if (periodic) this.forget(models);
      this.deps.metrics.scans.inc({ source, result: 'ok' });
    } catch (err) {
      this.deps.metrics.scans.inc({ source, result: 'failed' });
      this.deps.log('error', 'scan failed', { source, error: (err as Error).message });
      throw err;
    } finally {
      if (periodic) {
        this.deps.detections.endScan();
        this.deps.metrics.scanDuration.set({}, (performance.now() - started) / 1000);
        this.deps.metrics.lastScan.set({}, Date.now() / 1000);
      }
    }
  }

  private forget(models: ContainerModel[]): void {
    const ids = new Set(models.map((m) => m.id));
    this.deps.judge.forgetExcept(ids);
    for (const id of this.cpu.keys()) if (!ids.has(id)) this.cpu.delete(id);
  }

  private async inspectRunning(signal?: AbortSignal): Promise<ContainerModel[]> {
    const list = await this.deps.docker.listContainers({ abortSignal: signal } as object);
    const infos = await mapLimit(list, this.deps.stats.concurrency, async (c) => {
      try {
        return await this.deps.docker.getContainer(c.Id).inspect({ abortSignal: signal } as object);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined; // gone since listed
        throw err;
      }
    });
    return infos.filter((i): i is ContainerInspectInfo => i !== undefined && i.State.Running).map(modelFromInspect);
  }

  private async sampleAll(targets: ContainerModel[], signal?: AbortSignal): Promise<Map<string, ContainerMetrics>> {
    const out = new Map<string, ContainerMetrics>();
    await mapLimit(targets, this.deps.stats.concurrency, async (c) => {
      const raw = await this.sample(c.id, signal);
      if (!raw) return;
      out.set(c.id, computeMetrics(raw, this.cpu.get(c.id)));
      const cur = cpuSample(raw.cpu_stats);
      if (cur) this.cpu.set(c.id, cur);
    });
    return out;
  }

  /** One-shot stats (API 1.41+), bounded by a timeout; a failure leaves metrics missing. */
  private async sample(id: string, signal?: AbortSignal): Promise<RawStats | undefined> {
    const timeout = AbortSignal.timeout(this.deps.stats.timeoutSeconds * 1000);
    const abortSignal = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const opts = { stream: false, 'one-shot': true, abortSignal } as unknown as { stream: false };
      return (await this.deps.docker.getContainer(id).stats(opts)) as unknown as RawStats;
    } catch (err) {
      this.deps.log('warn', 'stats failed', { container: id, error: (err as Error).message });
      return undefined;
    }
  }
}

/** Runs fn over items with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

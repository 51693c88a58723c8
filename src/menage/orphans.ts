import type Docker from 'dockerode';
import { TERMINAL_STATUSES } from '../contract/ids.js';
import { LABELS } from '../contract/labels.js';
import { removeContainer } from './container-removal.js';
import type { Logger } from '../log/logger.js';

/** What the frontend says about a job: undefined when it does not know the job. */
export type JobLookup = (jobId: string) => Promise<{ status: string; attempts?: number } | undefined>;

/** A container as the sweeper sees it. */
export interface SweptContainer {
  id: string;
  labels: Record<string, string>;
  running: boolean;
  /** When it was created (epoch ms). */
  created?: number;
}

/** This menage: its node name, and when it started (its warm pool is younger). */
export interface SweepingNode {
  node: string;
  since: number;
}

/** What to do with one container: keep it, remove it, or kill it first (still running). */
export type Verdict = { action: 'keep' } | { action: 'remove' | 'kill'; why: string };

const FINISHED = new Set(TERMINAL_STATUSES);
const VOLUME_MIN_AGE_MS = 60_000;

/**
 * The orphan rule (pure). `job` is the frontend's answer, 'unavailable' when it could not
 * be asked. A container past its deadline label is overdue whatever its job says; otherwise
 * it goes when its job is finished, unknown, or has moved on to a later attempt.
 */
export function judgeContainer(c: SweptContainer, job: { status: string; attempts?: number } | undefined | 'unavailable', now: number, self?: SweepingNode): Verdict {
  const stop = (why: string): Verdict => ({ action: c.running ? 'kill' : 'remove', why });
  const deadline = Number(c.labels[LABELS.deadline]);
  if (Number.isFinite(deadline) && deadline > 0 && now > deadline) return stop(`past its deadline by ${Math.round((now - deadline) / 1000)} s`);
  // A warm-pool container waiting for a job belongs to its node's pool (bounded by its
  // deadline), unless it is this node's and older than this process: a leftover of its last run.
  if (isPooled(c.labels) && !c.running) {
    // Docker gives the creation time in whole seconds: a margin keeps this run's own.
    const leftover = self !== undefined && c.labels[LABELS.node] === self.node && (c.created ?? now) + 2000 < self.since;
    return leftover ? stop('a warm-pool container left by an earlier run of this node') : { action: 'keep' };
  }
  if (job === 'unavailable') return { action: 'keep' };
  if (job === undefined) return stop('its job is unknown to the frontend');
  if (FINISHED.has(job.status)) return stop(`its job is finished (${job.status})`);
  const attempt = Number(c.labels[LABELS.attempt]);
  if (job.attempts !== undefined && Number.isFinite(attempt) && attempt < job.attempts) return stop(`it ran attempt ${attempt}, the job is at attempt ${job.attempts}`);
  return { action: 'keep' };
}

/** Whether a container is a warm-pool container (no job label: the frontend knows its job once it runs). */
export function isPooled(labels: Readonly<Record<string, string>>): boolean {
  return labels[LABELS.role] === 'pool' && labels[LABELS.job] === undefined;
}

export interface SweepReport {
  removed: string[];
  killed: string[];
  volumes: string[];
}

export interface OrphanSweeperOptions {
  docker: Docker;
  /** Only containers and volumes labelled with this deployment are ever touched. */
  deployment: string;
  lookup: JobLookup;
  /** The job a running warm-pool container was recorded for (the frontend's `containerJob`). */
  containerLookup?: JobLookup;
  /** This menage, so that its own warm pool's leftovers from an earlier run go. */
  self?: SweepingNode;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
}

/**
 * Removes what menage left behind (after a crash, a lost lease, a stuck daemon call):
 * containers of its own deployment whose job is finished or unknown, overdue ones (killed
 * first), and dangling volumes of its deployment. Runs at start and then periodically.
 */
export class OrphanSweeper {
  readonly #o: Required<OrphanSweeperOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<SweepReport> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: OrphanSweeperOptions) {
    this.#o = { intervalMs: 30_000, now: Date.now, containerLookup: () => Promise.reject(new Error('no container lookup')), self: { node: '', since: 0 }, ...options };
  }

  /** Sweeps once now, then every interval. Calling it again does nothing. */
  async start(): Promise<void> {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.#safeSweep(), this.#o.intervalMs);
    this.#timer.unref();
    await this.#safeSweep();
  }

  /** Stops sweeping and waits for a sweep in progress; safe to call twice. */
  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#closing ??= (this.#running ?? Promise.resolve()).then(() => undefined, () => undefined);
    return this.#closing;
  }

  /** One sweep (never two at once); what it did. */
  sweep(): Promise<SweepReport> {
    this.#running ??= this.#sweep().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #safeSweep(): Promise<void> {
    if (this.#closed) return;
    await this.sweep().catch((err: Error) => this.#o.log.error({ err }, `orphan sweep failed: ${err.message}`));
  }

  async #sweep(): Promise<SweepReport> {
    const { docker, deployment, log } = this.#o;
    const report: SweepReport = { removed: [], killed: [], volumes: [] };
    const list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`, `${LABELS.deployment}=${deployment}`] } });
    const jobs = new Map<string, Promise<Awaited<ReturnType<JobLookup>> | 'unavailable'>>();
    for (const info of list) {
      const labels = info.Labels ?? {};
      if (labels[LABELS.deployment] !== deployment) continue; // never trust the filter alone
      const running = info.State === 'running';
      const pooled = isPooled(labels);
      const jobId = labels[LABELS.job] ?? '';
      if (!pooled && !jobs.has(jobId)) jobs.set(jobId, /^[1-9][0-9]*$/.test(jobId) ? this.#o.lookup(jobId).catch(() => 'unavailable' as const) : Promise.resolve(undefined));
      const job = !pooled ? await jobs.get(jobId) : running ? await this.#o.containerLookup(info.Id).catch(() => 'unavailable' as const) : 'unavailable';
      const verdict = judgeContainer({ id: info.Id, labels, running, created: info.Created * 1000 }, job, this.#o.now(), this.#o.self);
      if (verdict.action === 'keep') continue;
      const container = docker.getContainer(info.Id);
      if (verdict.action === 'kill') await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      await removeContainer(container);
      (verdict.action === 'kill' ? report.killed : report.removed).push(info.Id);
      log.warn({ jobid: jobId, engine: labels[LABELS.engine] ?? null, attempt: Number(labels[LABELS.attempt]) || null, container: info.Id.slice(0, 12) }, `orphan: ${verdict.action === 'kill' ? 'killed and removed' : 'removed'} container ${info.Id.slice(0, 12)} of ${pooled ? 'the warm pool' : `job ${jobId}`}: ${verdict.why}`);
    }
    report.volumes = await this.#sweepVolumes();
    return report;
  }

  /** Volumes of this deployment that no container uses any more (their container is gone). */
  async #sweepVolumes(): Promise<string[]> {
    const { docker, deployment, log } = this.#o;
    const { Volumes } = await docker.listVolumes({ filters: { dangling: ['true'], label: [`${LABELS.deployment}=${deployment}`] } });
    const removed: string[] = [];
    for (const v of Volumes ?? []) {
      if (v.Labels?.[LABELS.deployment] !== deployment) continue;
      // A volume is briefly dangling while its container is being created: leave young ones.
      const created = Date.parse((v as { CreatedAt?: string }).CreatedAt ?? '');
      if (!(this.#o.now() - created > VOLUME_MIN_AGE_MS)) continue;
      try {
        await docker.getVolume(v.Name).remove();
        removed.push(v.Name);
        log.info({ jobid: v.Labels[LABELS.job] ?? null, engine: v.Labels[LABELS.engine] ?? null, attempt: Number(v.Labels[LABELS.attempt]) || null }, `orphan: removed volume ${v.Name.slice(0, 12)} of job ${v.Labels[LABELS.job] ?? '?'}`);
      } catch {
        // In use again or already gone: the next sweep will see.
      }
    }
    return removed;
  }
}

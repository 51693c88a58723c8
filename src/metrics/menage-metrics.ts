import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The worker stages of one job, timed by `menagerie_menage_stage_seconds`. */
export type WorkerStage = 'queue_wait' | 'lease' | 'create' | 'copy_in' | 'run' | 'collect' | 'report';

/** Where the slot gauges read at scrape time. */
export interface MenageGaugeSources {
  engines(): readonly string[];
  busy(engine: string): number;
  total(engine: string): number;
}

const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/** menage's metrics, on the registry its composition root made (docs/observability.md). */
export class MenageMetrics {
  readonly registry: Registry;
  readonly #stages: Histogram<'engine' | 'stage'>;
  readonly #jobs: Counter<'engine' | 'outcome'>;
  readonly #docker: Counter<'operation'>;

  constructor(registry: Registry, sources: MenageGaugeSources) {
    this.registry = registry;
    const registers = [registry];
    collectDefaultMetrics({ register: registry });
    this.#stages = new Histogram({ name: 'menagerie_menage_stage_seconds', help: 'Duration of the worker stages of a job: queue_wait (published to consumed), lease, create, copy_in, run, collect, report.', labelNames: ['engine', 'stage'], buckets: STAGE_BUCKETS, registers });
    this.#jobs = new Counter({ name: 'menagerie_menage_jobs_total', help: 'Deliveries handled, by engine and outcome (success, fail, handed_back, stopped, not_started, dead_letter).', labelNames: ['engine', 'outcome'], registers });
    this.#docker = new Counter({ name: 'menagerie_menage_docker_errors_total', help: 'Docker calls that failed, by operation.', labelNames: ['operation'], registers });
    const slots = (name: string, help: string, read: (engine: string) => number): void => void new Gauge({ name, help, labelNames: ['engine'], registers,
      collect() {
        this.reset();
        for (const engine of sources.engines()) this.set({ engine }, read(engine));
      } });
    slots('menagerie_menage_slots_busy', 'Slots running a job on this node, by engine.', (e) => sources.busy(e));
    slots('menagerie_menage_slots_total', 'Slots of this node, by engine.', (e) => sources.total(e));
  }

  /** A stage of a job took `seconds`. */
  stage(engine: string, stage: WorkerStage, seconds: number): void {
    this.#stages.observe({ engine, stage }, Math.max(0, seconds));
  }

  /** Times `fn` as `stage` (whether it succeeds or throws). */
  async time<T>(engine: string, stage: WorkerStage, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.stage(engine, stage, (performance.now() - started) / 1000);
    }
  }

  /** A delivery ended with `outcome`. */
  job(engine: string, outcome: string): void {
    this.#jobs.inc({ engine, outcome });
  }

  /** A Docker call failed. */
  dockerError(operation: string): void {
    this.#docker.inc({ operation });
  }
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STATUS } from '../contract/ids.js';
import { BoundedLabel, reasonLabel } from './reasons.js';

/** Where the scrape-time gauges read: the engines, their queues, the slots menage nodes report. */
export interface FrontendGaugeSources {
  engines(): readonly string[];
  /** Messages waiting in the engine's queue; null when the broker cannot say now. */
  depth(engine: string): Promise<number | null>;
  /** Busy and total slots over the live menage nodes; null when none serves the engine. */
  slots(engine: string): { busy: number; total: number } | null;
}

/** The frontend's stages, timed by `menagerie_frontend_stage_seconds`. */
export type FrontendStage = 'upload' | 'store' | 'publish';

/** Seconds: from a millisecond to two minutes (a large upload). */
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Bytes: from 1 KiB to 1 GiB, by fours. */
const BYTE_BUCKETS = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824];

/**
 * The frontend's metrics, on the registry its composition root made (docs/observability.md
 * lists each). Gauges of queues and slots are read at scrape time from `sources`.
 */
export class FrontendMetrics {
  readonly registry: Registry;
  readonly #jobs: Counter<'engine' | 'status' | 'reason'>;
  readonly #cached: Counter<'engine'>;
  readonly #stages: Histogram<'stage'>;
  readonly #uploadBytes: Histogram;
  readonly #errors: Counter<'code'>;
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #reasons = new BoundedLabel();
  readonly #engines = new BoundedLabel(200);

  constructor(registry: Registry, sources: FrontendGaugeSources) {
    this.registry = registry;
    const registers = [registry];
    collectDefaultMetrics({ register: registry });
    this.#jobs = new Counter({ name: 'menagerie_jobs_finished_total', help: 'Jobs that reached a final status, by engine, status (Success, Fail) and reason phrase ("" for Success).', labelNames: ['engine', 'status', 'reason'], registers });
    this.#cached = new Counter({ name: 'menagerie_jobs_cached_total', help: 'Jobs answered from the result cache at submission (they ran nothing, and are not in menagerie_jobs_finished_total), by engine.', labelNames: ['engine'], registers });
    this.#stages = new Histogram({ name: 'menagerie_frontend_stage_seconds', help: 'Duration of the frontend stages of a submission: upload (receiving and writing the body), store (recording the job and linking its input), publish (until the broker confirms).', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers });
    this.#uploadBytes = new Histogram({ name: 'menagerie_frontend_upload_bytes', help: 'Size of the samples received.', buckets: BYTE_BUCKETS, registers });
    this.#errors = new Counter({ name: 'menagerie_frontend_errors_total', help: 'Error answers of the public API, by error code.', labelNames: ['code'], registers });
    this.#requests = new Counter({ name: 'menagerie_frontend_http_requests_total', help: 'Public API requests, by method, route pattern and status code.', labelNames: ['method', 'route', 'status'], registers });
    new Gauge({ name: 'menagerie_queue_depth', help: 'Messages waiting in each engine\'s queue (absent when the broker cannot say).', labelNames: ['engine'], registers,
      async collect() {
        this.reset();
        const names = sources.engines();
        const depths = await Promise.all(names.map((e) => sources.depth(e)));
        names.forEach((engine, i) => {
          const d = depths[i];
          if (typeof d === 'number') this.set({ engine }, d);
        });
      } });
    const slots = (name: string, help: string, pick: (s: { busy: number; total: number }) => number): Gauge<'engine'> => new Gauge({ name, help, labelNames: ['engine'], registers,
      collect() {
        this.reset();
        for (const engine of sources.engines()) {
          const s = sources.slots(engine);
          this.set({ engine }, s ? pick(s) : 0);
        }
      } });
    slots('menagerie_engine_slots_busy', 'Busy worker slots over the live menage nodes, by engine.', (s) => s.busy);
    slots('menagerie_engine_slots_total', 'Worker slots over the live menage nodes, by engine (0: no live node serves it).', (s) => s.total);
  }

  /** A job reached a final status. */
  finished(job: { engine: string; status: string; reason?: string | null }): void {
    const reason = job.status === STATUS.success ? '' : this.#reasons.of(reasonLabel(job.reason));
    this.#jobs.inc({ engine: this.#engines.of(job.engine), status: job.status, reason });
  }

  /** A job was answered from the result cache. */
  cached(engine: string): void {
    this.#cached.inc({ engine: this.#engines.of(engine) });
  }

  /** A stage of a submission took `seconds`. */
  stage(stage: FrontendStage, seconds: number): void {
    this.#stages.observe({ stage }, seconds);
  }

  /** A sample of `bytes` was received in `seconds` (the upload stage). */
  uploaded(seconds: number, bytes: number): void {
    this.#stages.observe({ stage: 'upload' }, seconds);
    this.#uploadBytes.observe(bytes);
  }

  /** The error middleware answered with `code`. */
  error(code: string): void {
    this.#errors.inc({ code });
  }

  /** A request was answered; `route` is the matched pattern ("unmatched" when none). */
  request(method: string, route: string, status: number): void {
    this.#requests.inc({ method: KNOWN_METHODS.has(method) ? method : 'other', route, status: String(status) });
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

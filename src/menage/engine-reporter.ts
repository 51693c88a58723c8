import type { EnginesReport } from '../contract/index.js';
import type { Engine } from '../engines/engines.js';
import type { Logger } from '../log/logger.js';

export interface EngineReporterDeps {
  /** The engines this node serves now (they change with reloads). */
  engines: () => readonly Engine[];
  node: string;
  /** The image id of an engine's image on this node (Docker's image inspect), or null. */
  imageId: (image: string) => Promise<string | null>;
  /** Jobs running now for an engine. */
  busy: (engine: string) => number;
  send: (report: EnginesReport) => Promise<void>;
  intervalMs: number;
  log: Logger;
}

/**
 * Tells the frontend, at start and every `intervalMs`, which image each engine runs on this
 * node and how many of its slots are busy: the result cache keys on the image, and the
 * engines listing shows both. A report that fails is logged and sent again next time.
 */
export class EngineReporter {
  readonly #d: EngineReporterDeps;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(deps: EngineReporterDeps) {
    this.#d = deps;
  }

  /** Sends the first report (waiting for it), then reports periodically. */
  async start(): Promise<void> {
    await this.report();
    this.#timer = setInterval(() => void this.report(), this.#d.intervalMs);
    this.#timer.unref();
  }

  /** Sends one report now; never throws. */
  async report(): Promise<void> {
    try {
      const engines = await Promise.all(this.#d.engines().map(async (e) => ({
        name: e.name, digest: await this.#d.imageId(e.image).catch(() => null), busy: this.#d.busy(e.name), total: e.workers,
      })));
      await this.#d.send({ node: this.#d.node.slice(0, 128), engines });
      if (this.#failing) this.#d.log.info('engine report: delivered again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) this.#d.log.warn({ err }, `engine report failed (sent again in ${this.#d.intervalMs / 1000} s): ${(err as Error).message}`);
      this.#failing = true;
    }
  }

  /** Stops reporting; safe to call twice. */
  close(): void {
    clearInterval(this.#timer);
  }
}

import type { Engine } from '../engines/engines.js';
import type { EngineChanges } from '../engines/registry.js';
import type { EngineConsumer } from '../queue/consumer.js';
import type { Logger } from '../log/logger.js';

/** What the slots need from the composition root. */
export interface EngineSlotsDeps {
  /** A consumer of the engine's queue with its job handler (not started). */
  consumerFor(engine: Engine): EngineConsumer;
  log: Logger;
  /** At shutdown: how long jobs in flight may take before they are handed back. */
  graceMs: number;
}

/**
 * menage's worker slots, one consumer per engine version. A reload starts the new version's
 * consumer first, then drains the old one in the background: it takes no new job and lets its
 * jobs in flight run to their end (the engine's timeout, plus the shutdown grace), so no job is
 * dropped by a version change.
 */
export class EngineSlots {
  readonly #d: EngineSlotsDeps;
  readonly #consumers = new Map<string, EngineConsumer>();
  readonly #draining = new Set<Promise<void>>();
  #paused = false;

  constructor(deps: EngineSlotsDeps) {
    this.#d = deps;
  }

  /** The consumers of the engines in use. */
  all(): EngineConsumer[] {
    return [...this.#consumers.values()];
  }

  /** Starts consumers for `engines` (start-up). */
  async start(engines: readonly Engine[]): Promise<void> {
    await this.apply({ added: [...engines], removed: [], changed: [] });
  }

  /** Applies a reload: new versions start, old and removed versions drain. */
  async apply(c: EngineChanges): Promise<void> {
    const starts: { to: Engine; from?: Engine }[] = [...c.added.map((to) => ({ to })), ...c.changed];
    for (const { to, from } of starts) {
      const old = this.#consumers.get(to.name);
      const consumer = this.#d.consumerFor(to);
      await consumer.start();
      if (this.#paused) consumer.pause();
      this.#consumers.set(to.name, consumer);
      if (old) this.#drain(from ?? to, old, 'replaced by a new version');
    }
    for (const engine of c.removed) {
      const old = this.#consumers.get(engine.name);
      this.#consumers.delete(engine.name);
      if (old) this.#drain(engine, old, 'removed');
    }
  }

  pause(): void {
    this.#paused = true;
    for (const c of this.#consumers.values()) c.pause();
  }

  resume(): void {
    this.#paused = false;
    for (const c of this.#consumers.values()) c.resume();
  }

  /** Closes every consumer, draining ones included; safe to call twice. */
  async close(graceMs = this.#d.graceMs): Promise<void> {
    await Promise.allSettled([...this.all().map((c) => c.close(graceMs)), ...this.#draining]);
  }

  #drain(engine: Engine, consumer: EngineConsumer, why: string): void {
    const name = engine.name;
    this.#d.log.info({ engine: name }, `${name}: draining the old slots (${why}); their jobs in flight finish`);
    const done = consumer.close(engine.timeoutMs + this.#d.graceMs).then(
      () => this.#d.log.info({ engine: name }, `${name}: old slots drained`),
      (err: Error) => this.#d.log.error({ engine: name, err }, `${name}: draining failed: ${err.message}`));
    this.#draining.add(done);
    void done.finally(() => this.#draining.delete(done));
  }
}

import type { EngineReport, EnginesReport } from '../contract/index.js';

/** What the read side (GET /api/v1/engines) and the result cache learn from the workers. */
export interface EngineStatusSource {
  /** The image id every live worker node runs for `engine`; null if unknown or the nodes disagree. */
  digest(engine: string): string | null;
  /** Busy and total worker slots over the live nodes; null if no live node serves `engine`. */
  slots(engine: string): { busy: number; total: number } | null;
}

/**
 * The engines' state as menage nodes report it (internal call `PUT /internal/engines`). A node
 * that has not reported for `staleMs` no longer counts. The digest is the image id the live
 * nodes agree on: during a rolling image update nodes disagree and it is null, so the result
 * cache answers nothing until they agree again.
 */
export class EngineStatusBoard implements EngineStatusSource {
  readonly #nodes = new Map<string, { at: number; engines: Map<string, EngineReport> }>();
  readonly #staleMs: number;
  readonly #now: () => number;

  constructor(staleMs = 60_000, now: () => number = Date.now) {
    this.#staleMs = staleMs;
    this.#now = now;
  }

  /** Records a node's report (replacing its previous one). */
  report(r: EnginesReport): void {
    this.#nodes.set(r.node, { at: this.#now(), engines: new Map(r.engines.map((e) => [e.name, e])) });
    // Nodes gone for long are forgotten, so the map stays as small as the fleet.
    for (const [node, n] of this.#nodes) if (this.#now() - n.at > 10 * this.#staleMs) this.#nodes.delete(node);
  }

  #live(engine: string): EngineReport[] {
    const now = this.#now();
    return [...this.#nodes.values()].filter((n) => now - n.at <= this.#staleMs).flatMap((n) => n.engines.get(engine) ?? []);
  }

  digest(engine: string): string | null {
    const digests = new Set(this.#live(engine).map((e) => e.digest));
    const [only] = digests;
    return digests.size === 1 && only ? only : null;
  }

  slots(engine: string): { busy: number; total: number } | null {
    const live = this.#live(engine);
    if (live.length === 0) return null;
    return live.reduce((sum, e) => ({ busy: sum.busy + e.busy, total: sum.total + e.total }), { busy: 0, total: 0 });
  }
}

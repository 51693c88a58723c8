/**
 * The jobs this menage node runs now, each with the way to stop it: a cancellation heard on
 * the broadcast stops the container at once instead of at the next refused heartbeat.
 */
export class RunningJobs {
  readonly #stops = new Map<string, { stop: () => void; engine: string }>();

  /** Registers a running job of `engine`; returns the function that unregisters it. */
  add(id: string, stop: () => void, engine = ''): () => void {
    const entry = { stop, engine };
    this.#stops.set(id, entry);
    return () => {
      if (this.#stops.get(id) === entry) this.#stops.delete(id);
    };
  }

  /** Stops job `id` if it runs here; true if it did. */
  cancel(id: string): boolean {
    const entry = this.#stops.get(id);
    entry?.stop();
    return entry !== undefined;
  }

  /** How many jobs of `engine` run now (the busy slots menage reports). */
  busy(engine: string): number {
    let n = 0;
    for (const e of this.#stops.values()) if (e.engine === engine) n++;
    return n;
  }

  /** How many jobs run now. */
  get size(): number {
    return this.#stops.size;
  }
}

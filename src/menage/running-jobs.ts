/**
 * The jobs this menage node runs now, each with the way to stop it: a cancellation heard on
 * the broadcast stops the container at once instead of at the next refused heartbeat.
 */
export class RunningJobs {
  readonly #stops = new Map<string, () => void>();

  /** Registers a running job; returns the function that unregisters it. */
  add(id: string, stop: () => void): () => void {
    this.#stops.set(id, stop);
    return () => {
      if (this.#stops.get(id) === stop) this.#stops.delete(id);
    };
  }

  /** Stops job `id` if it runs here; true if it did. */
  cancel(id: string): boolean {
    const stop = this.#stops.get(id);
    stop?.();
    return stop !== undefined;
  }

  /** How many jobs run now. */
  get size(): number {
    return this.#stops.size;
  }
}

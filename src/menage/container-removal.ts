import type { Container } from 'dockerode';

/** Removes a container and its anonymous volume; retries briefly (the daemon may be busy). */
export async function removeContainer(container: Container): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  }
}

/** Container removals a runner lets run beside new jobs before a new run waits. */
const MAX_REMOVALS = 16;

/**
 * Removals of finished runs' containers (and their capped volumes) under way. A run's outcome
 * may be reported without waiting for the daemon's removal, which goes on beside the next
 * job; bounded: past MAX_REMOVALS under way, `room()` waits for one.
 */
export class RemovalQueue {
  readonly #removals = new Set<Promise<void>>();

  /** Starts removing; the promise settles when the removal is done (it never rejects). */
  add(container: Container, volume: { close(): Promise<void> } | undefined): Promise<void> {
    const p: Promise<void> = removeContainer(container).then(() => volume?.close()).catch(() => undefined)
      .finally(() => this.#removals.delete(p));
    this.#removals.add(p);
    return p;
  }

  /** Waits until fewer than MAX_REMOVALS are under way. */
  async room(): Promise<void> {
    while (this.#removals.size >= MAX_REMOVALS) await Promise.race(this.#removals);
  }

  /** Waits for the removals still under way (shutdown); safe to call twice. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#removals]);
  }
}

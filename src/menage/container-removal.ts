import type { Container } from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a removal retries: for how long, and until when it may keep trying (shutdown aborts). */
export interface RemoveOptions {
  /** Keep retrying this long while the daemon does not answer (default: a few seconds); an error it answers with gets a few seconds. */
  retryForMs?: number;
  /** How long an error the daemon answers with (busy, conflict) is retried (default: a few seconds). */
  answeredForMs?: number;
  /** Aborted: one last try, then give up (the orphan sweeper is the backstop). */
  signal?: AbortSignal;
}

/** A brief retry: the daemon may be busy. */
const BRIEF_MS = 6000;
/** The longest pause between two tries. */
const MAX_PAUSE_MS = 5000;

/**
 * Removes a container and its anonymous volume; true once the container is gone. Retries
 * while the daemon does not answer (restarting, or its proxy away) for `retryForMs`, and an
 * error the daemon answers with (busy) for a few seconds. A refusal (400, 403) is final:
 * retrying cannot change it.
 */
export async function removeContainer(container: Container, o: RemoveOptions = {}): Promise<boolean> {
  const started = Date.now();
  for (let i = 0; ; i++) {
    try {
      await container.remove({ force: true, v: true });
      return true;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) return true;
      // No status: the socket failed. 502-504: docker-proxy could not reach the daemon.
      const away = status === undefined || status === 502 || status === 503 || status === 504;
      const brief = o.answeredForMs ?? BRIEF_MS;
      const until = started + (away ? Math.max(o.retryForMs ?? brief, brief) : brief);
      if (status === 400 || status === 403 || o.signal?.aborted || Date.now() >= until) return false;
      const pause = Math.min(200 * 2 ** i, MAX_PAUSE_MS, Math.max(0, until - Date.now()));
      await sleep(pause, undefined, o.signal ? { signal: o.signal } : {}).catch(() => undefined);
    }
  }
}

/** Container removals a runner lets run beside new jobs before a new run waits. */
const MAX_REMOVALS = 16;

/**
 * How long a queued removal keeps trying while Docker does not answer: a daemon restart or a
 * stop of a few minutes must not leave containers behind (they would wait for the orphan
 * sweeper's deadline, and a warm pool's never-started ones count as waiting until then).
 */
const QUEUED_RETRY_MS = 10 * 60_000;

/**
 * Removals of finished runs' containers (and their capped volumes) under way. A run's outcome
 * may be reported without waiting for the daemon's removal, which goes on beside the next
 * job; bounded: past MAX_REMOVALS under way, `room()` waits for one. A removal outlasts a
 * Docker outage (it retries until the daemon answers, up to QUEUED_RETRY_MS); `close()`
 * cuts the retries short.
 */
export class RemovalQueue {
  readonly #removals = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  readonly #retryForMs: number;
  readonly #onGiveUp: ((container: Container) => void) | undefined;

  constructor(o: { retryForMs?: number; onGiveUp?: (container: Container) => void } = {}) {
    this.#retryForMs = o.retryForMs ?? QUEUED_RETRY_MS;
    this.#onGiveUp = o.onGiveUp;
  }

  /** Starts removing; the promise settles when the removal is done or given up (it never rejects). */
  add(container: Container, volume: { close(): Promise<void> } | undefined): Promise<void> {
    const p: Promise<void> = removeContainer(container, { retryForMs: this.#retryForMs, signal: this.#closing.signal })
      .then((gone) => (gone ? volume?.close() : this.#onGiveUp?.(container))).catch(() => undefined)
      .finally(() => this.#removals.delete(p));
    this.#removals.add(p);
    return p;
  }

  /** Waits until fewer than MAX_REMOVALS are under way. */
  async room(): Promise<void> {
    while (this.#removals.size >= MAX_REMOVALS) await Promise.race(this.#removals);
  }

  /** Gives each removal under way one last try and waits for them (shutdown); safe to call twice. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#removals]);
  }
}

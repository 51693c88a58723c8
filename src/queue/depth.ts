import type { Channel } from 'amqplib';
import type { BrokerConnection } from './connection.js';
import { names } from './topology.js';

/** How long a queue depth is reused, and how long a check may take before it counts as unknown. */
const CACHE_MS = 3000;
const CHECK_TIMEOUT_MS = 1000;

/**
 * Messages waiting in each engine's queue, from a passive check (declare nothing). Answers
 * are cached a few seconds and a check never waits longer than a second: a slow or absent
 * broker gives null, never a slow answer.
 */
export class QueueDepths {
  readonly #broker: BrokerConnection;
  readonly #prefix: string;
  readonly #cache = new Map<string, { at: number; depth: Promise<number | null> }>();
  #channel: Promise<Channel> | undefined;

  constructor(broker: BrokerConnection, prefix: string) {
    this.#broker = broker;
    this.#prefix = prefix;
  }

  /** The message count of `engine`'s queue, or null if the broker cannot say now. */
  depth(engine: string): Promise<number | null> {
    const hit = this.#cache.get(engine);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.depth;
    const depth = this.#check(engine);
    this.#cache.set(engine, { at: Date.now(), depth });
    return depth;
  }

  /**
   * How many consumers `engine`'s queue has now (uncached), or null if the broker cannot say:
   * a reload of the frontend takes uploads for a new engine only once a menage consumes them.
   */
  async consumers(engine: string): Promise<number | null> {
    try {
      const ch = await this.#openChannel();
      return (await ch.checkQueue(names(this.#prefix).queue(engine))).consumerCount;
    } catch {
      this.#channel = undefined;
      return null;
    }
  }

  async #check(engine: string): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), CHECK_TIMEOUT_MS);
    });
    const check = (async () => {
      const ch = await this.#openChannel();
      return (await ch.checkQueue(names(this.#prefix).queue(engine))).messageCount;
    })().catch(() => {
      // A missing queue closes the channel; the next check opens another.
      this.#channel = undefined;
      return null;
    });
    try {
      return await Promise.race([check, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #openChannel(): Promise<Channel> {
    this.#channel ??= this.#broker.get().then(async (model) => {
      const ch = await model.createChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => {
        this.#channel = undefined;
      });
      return ch;
    });
    const opened = this.#channel;
    opened.catch(() => {
      if (this.#channel === opened) this.#channel = undefined;
    });
    return opened;
  }
}

import type { Channel, ConsumeMessage } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerConnection } from './connection.js';
import { declareTopology, names, parseMessage, PUBLISHED_AT_HEADER, type JobMessage } from './topology.js';
import type { Logger } from '../log/logger.js';

/**
 * What to do with a delivery once its handler is done. `republish` puts a fresh copy at the
 * back of the queue and acks this one: unlike `requeue`, it does not count as a delivery
 * (quorum queues dead-letter a message after DELIVERY_LIMIT returns), for a job that an
 * outage of our own services kept from running.
 */
export type Disposition = 'ack' | 'requeue' | 'dead-letter' | 'republish';

/** Handles one delivery; `message` is undefined when the body is malformed. */
export type DeliveryHandler = (message: JobMessage | undefined, signal: AbortSignal, raw: ConsumeMessage) => Promise<Disposition>;

export interface ConsumerOptions {
  prefix: string;
  engine: string;
  /** How many deliveries may be in flight: the engine's worker slots. */
  slots: number;
  handle: DeliveryHandler;
  log: Logger;
}

/**
 * Consumes one engine's queue with manual acks and prefetch equal to its slots, so the
 * broker hands out no more jobs than there are free workers. Reconnects with backoff after
 * the broker drops the channel, re-declaring the topology.
 */
export class EngineConsumer {
  readonly #conn: BrokerConnection;
  readonly #opts: ConsumerOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #stopped = new AbortController();
  /** The consumer tag each in-flight delivery came to. */
  readonly #owner = new Map<Promise<void>, string>();
  #channel: Channel | undefined;
  #tag: string | undefined;
  #prefetch = 0;
  #paused = false;
  /** A (re)subscription is under way: no second one may start meanwhile. */
  #subscribing = false;
  /** The newest channel, from its creation on (#channel is set once it is ready). */
  #opening: Channel | undefined;
  #closing: Promise<void> | undefined;
  #loop: Promise<void> | undefined;

  constructor(conn: BrokerConnection, opts: ConsumerOptions) {
    this.#conn = conn;
    this.#opts = opts;
  }

  /** Starts consuming in the background; resolves once the first attempt to subscribe ends. */
  async start(): Promise<void> {
    let first!: () => void;
    const ready = new Promise<void>((resolve) => (first = resolve));
    this.#loop = this.#run(first);
    await ready;
  }

  /** Number of deliveries being handled now. */
  get busy(): number {
    return this.#inFlight.size;
  }

  async #run(ready: () => void): Promise<void> {
    let delay = 250;
    while (!this.#stopped.signal.aborted) {
      try {
        // Jobs from a channel the broker closed may still run: take only the free slots.
        await this.#slotFree();
        if (this.#stopped.signal.aborted) break;
        const ch = await (await this.#conn.get()).createChannel();
        const closed = new Promise<void>((resolve) => ch.once('close', resolve));
        ch.on('error', (err: Error) => this.#opts.log.warn({ err, engine: this.#opts.engine }, `channel error: ${err.message}`));
        // close() closes this channel from now on; one that came while it was being opened
        // found nothing to close, and the loop would wait on it forever.
        this.#opening = ch;
        if (this.#stopped.signal.aborted) {
          await ch.close().catch(() => undefined);
          break;
        }
        await declareTopology(ch, this.#opts.prefix, [this.#opts.engine]);
        this.#channel = ch;
        if (!this.#paused) await this.#subscribe(ch, this.#opts.slots - this.#inFlight.size);
        delay = 250;
        ready();
        await closed;
        this.#channel = undefined;
        this.#tag = undefined;
      } catch (err) {
        this.#opts.log.error({ err, engine: this.#opts.engine }, `cannot consume ${this.#opts.engine}: ${(err as Error).message}`);
        ready();
      }
      if (this.#stopped.signal.aborted) break;
      await sleep(delay, undefined, { signal: this.#stopped.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 15_000);
    }
  }

  /** Starts (or restarts) the consumer on `ch` with a prefetch of `prefetch`. */
  async #subscribe(ch: Channel, prefetch: number): Promise<void> {
    this.#subscribing = true;
    try {
      const old = this.#tag;
      this.#tag = undefined;
      if (old) await ch.cancel(old);
      await ch.prefetch(prefetch);
      this.#prefetch = prefetch;
      const tag = (await ch.consume(names(this.#opts.prefix).queue(this.#opts.engine), (m) => this.#deliver(ch, m), { noAck: false })).consumerTag;
      if (this.#paused || this.#stopped.signal.aborted) await ch.cancel(tag);
      else this.#tag = tag;
    } finally {
      this.#subscribing = false;
    }
    // Slots freed (or a resume) while this subscription was being made.
    this.#widen();
  }

  /**
   * Stops taking new deliveries (the circuit breaker opened); jobs being handled go on and
   * settle their messages on the same channel. Safe to call twice.
   */
  pause(): void {
    this.#paused = true;
    const ch = this.#channel;
    const tag = this.#tag;
    this.#tag = undefined;
    if (ch && tag) ch.cancel(tag).catch((err: Error) => this.#opts.log.warn({ err, engine: this.#opts.engine }, `cannot pause ${this.#opts.engine}: ${err.message}`));
  }

  /** Takes deliveries again, for the slots that are free. */
  resume(): void {
    this.#paused = false;
    this.#widen();
  }

  /** Whether consumption is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  async #slotFree(): Promise<void> {
    while (this.#inFlight.size >= this.#opts.slots && !this.#stopped.signal.aborted) {
      await Promise.race([...this.#inFlight, sleep(1000)]);
    }
  }

  /**
   * Once jobs that the current consumer does not count (from an older consumer or channel)
   * have finished, subscribes again so that the broker hands out exactly the free slots.
   */
  #widen(): void {
    const ch = this.#channel;
    if (!ch || this.#stopped.signal.aborted || this.#paused || this.#subscribing) return;
    const others = [...this.#owner.values()].filter((t) => t !== this.#tag).length;
    if (this.#tag && others + this.#prefetch >= this.#opts.slots) return;
    const free = this.#opts.slots - this.#inFlight.size;
    if (free <= 0) return;
    this.#subscribe(ch, free).catch((err: Error) => this.#opts.log.warn({ err, engine: this.#opts.engine }, `cannot widen prefetch: ${err.message}`));
  }

  /** Publishes a fresh copy of `raw` to the engine's queue and waits for the broker's confirm. */
  async #republish(raw: ConsumeMessage): Promise<void> {
    const ch = await (await this.#conn.get()).createConfirmChannel();
    ch.on('error', () => undefined);
    try {
      ch.sendToQueue(names(this.#opts.prefix).queue(this.#opts.engine), raw.content,
        { persistent: true, contentType: raw.properties.contentType, messageId: raw.properties.messageId, headers: { [PUBLISHED_AT_HEADER]: Date.now() } });
      await ch.waitForConfirms();
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  #deliver(ch: Channel, raw: ConsumeMessage | null): void {
    if (raw === null) {
      // The broker cancelled us (queue deleted or failed over): reconnect.
      ch.close().catch(() => undefined);
      return;
    }
    const work = (async () => {
      let disposition: Disposition;
      try {
        disposition = await this.#opts.handle(parseMessage(raw.content, raw.properties.headers), this.#abort.signal, raw);
      } catch (err) {
        this.#opts.log.error({ err, engine: this.#opts.engine }, `handler failed, requeueing: ${(err as Error).message}`);
        disposition = 'requeue';
      }
      if (disposition === 'republish') {
        disposition = await this.#republish(raw).then(() => 'ack' as const, (err: Error) => {
          this.#opts.log.warn({ err, engine: this.#opts.engine }, `cannot republish, requeueing: ${err.message}`);
          return 'requeue' as const;
        });
      }
      try {
        if (disposition === 'ack') ch.ack(raw);
        else ch.nack(raw, false, disposition === 'requeue');
      } catch {
        // The channel is gone: the broker will redeliver; the job store decides what that means.
      }
    })();
    this.#inFlight.add(work);
    this.#owner.set(work, raw.fields.consumerTag);
    void work.finally(() => {
      this.#inFlight.delete(work);
      this.#owner.delete(work);
      this.#widen();
    });
  }

  /**
   * Stops taking work, lets in-flight jobs finish for up to `graceMs`, then aborts them
   * (their handlers hand the jobs back), and closes the channel. Every caller gets the
   * first call's promise: a second call never starts a second shutdown.
   */
  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#stopped.abort();
    if (this.#channel && this.#tag) await this.#channel.cancel(this.#tag).catch(() => undefined);
    const all = Promise.allSettled([...this.#inFlight]);
    const timer = setTimeout(() => this.#abort.abort(), graceMs);
    await all;
    clearTimeout(timer);
    await (this.#channel ?? this.#opening)?.close().catch(() => undefined);
    await this.#loop;
  }
}

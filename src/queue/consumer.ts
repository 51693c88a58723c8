import type { Channel, ConsumeMessage } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerConnection } from './connection.js';
import { declareTopology, names, parseMessage, type JobMessage } from './topology.js';

/** What to do with a delivery once its handler is done. */
export type Disposition = 'ack' | 'requeue' | 'dead-letter';

/** Handles one delivery; `message` is undefined when the body is malformed. */
export type DeliveryHandler = (message: JobMessage | undefined, signal: AbortSignal, raw: ConsumeMessage) => Promise<Disposition>;

export interface ConsumerOptions {
  prefix: string;
  engine: string;
  /** How many deliveries may be in flight: the engine's worker slots. */
  slots: number;
  handle: DeliveryHandler;
  log: (msg: string) => void;
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
  /** The channel each in-flight delivery came on. */
  readonly #owner = new Map<Promise<void>, Channel>();
  #channel: Channel | undefined;
  #tag: string | undefined;
  #prefetch = 0;
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
        ch.on('error', (err: Error) => this.#opts.log(`channel error: ${err.message}`));
        await declareTopology(ch, this.#opts.prefix, [this.#opts.engine]);
        this.#channel = ch;
        await this.#subscribe(ch, this.#opts.slots - this.#inFlight.size);
        delay = 250;
        ready();
        await closed;
        this.#channel = undefined;
        this.#tag = undefined;
      } catch (err) {
        this.#opts.log(`cannot consume ${this.#opts.engine}: ${(err as Error).message}`);
        ready();
      }
      if (this.#stopped.signal.aborted) break;
      await sleep(delay, undefined, { signal: this.#stopped.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 15_000);
    }
  }

  /** Starts (or restarts) the consumer on `ch` with a prefetch of `prefetch`. */
  async #subscribe(ch: Channel, prefetch: number): Promise<void> {
    if (this.#tag) await ch.cancel(this.#tag);
    await ch.prefetch(prefetch);
    this.#prefetch = prefetch;
    this.#tag = (await ch.consume(names(this.#opts.prefix).queue(this.#opts.engine), (m) => this.#deliver(ch, m), { noAck: false })).consumerTag;
  }

  async #slotFree(): Promise<void> {
    while (this.#inFlight.size >= this.#opts.slots && !this.#stopped.signal.aborted) {
      await Promise.race([...this.#inFlight, sleep(1000)]);
    }
  }

  /** After jobs of an older channel finished, widen the prefetch back to every slot. */
  #widen(): void {
    const ch = this.#channel;
    if (!ch || this.#stopped.signal.aborted || this.#prefetch >= this.#opts.slots) return;
    const older = [...this.#owner.values()].filter((c) => c !== ch).length;
    if (older > 0) return;
    this.#subscribe(ch, this.#opts.slots).catch((err: Error) => this.#opts.log(`cannot widen prefetch: ${err.message}`));
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
        disposition = await this.#opts.handle(parseMessage(raw.content), this.#abort.signal, raw);
      } catch (err) {
        this.#opts.log(`handler failed, requeueing: ${(err as Error).message}`);
        disposition = 'requeue';
      }
      try {
        if (disposition === 'ack') ch.ack(raw);
        else ch.nack(raw, false, disposition === 'requeue');
      } catch {
        // The channel is gone: the broker will redeliver; the job store decides what that means.
      }
    })();
    this.#inFlight.add(work);
    this.#owner.set(work, ch);
    void work.finally(() => {
      this.#inFlight.delete(work);
      this.#owner.delete(work);
      this.#widen();
    });
  }

  /**
   * Stops taking work, lets in-flight jobs finish for up to `graceMs`, then aborts them
   * (their handlers hand the jobs back), and closes the channel. Safe to call twice.
   */
  async close(graceMs = 10_000): Promise<void> {
    if (!this.#stopped.signal.aborted) {
      this.#stopped.abort();
      if (this.#channel && this.#tag) await this.#channel.cancel(this.#tag).catch(() => undefined);
    }
    const all = Promise.allSettled([...this.#inFlight]);
    const timer = setTimeout(() => this.#abort.abort(), graceMs);
    await all;
    clearTimeout(timer);
    await this.#channel?.close().catch(() => undefined);
    await this.#loop;
  }
}

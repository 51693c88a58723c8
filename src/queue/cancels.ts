import type { Channel } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerConnection } from './connection.js';
import { names, parseMessage, type JobMessage } from './topology.js';
import type { Logger } from '../log/logger.js';

/**
 * Cancellation broadcast: the frontend publishes `{jobId, engine}` on a fanout exchange
 * (`<prefix>.cancel`); every menage node listens on its own exclusive, auto-deleted queue
 * and stops the job's container at once if it runs it. Messages are transient: a node that is
 * not connected misses it and learns from its next heartbeat, which the frontend refuses.
 */
async function declare(ch: Channel, prefix: string): Promise<string> {
  const exchange = names(prefix).cancel;
  await ch.assertExchange(exchange, 'fanout', { durable: true });
  return exchange;
}

/** The frontend's side: publishes cancellations. */
export class CancelPublisher {
  readonly #conn: BrokerConnection;
  readonly #prefix: string;
  #channel: Promise<{ ch: Channel; exchange: string }> | undefined;
  #closing: Promise<void> | undefined;

  constructor(conn: BrokerConnection, prefix: string) {
    this.#conn = conn;
    this.#prefix = prefix;
  }

  #get(): Promise<{ ch: Channel; exchange: string }> {
    if (this.#closing) return Promise.reject(new Error('the cancel publisher is closed'));
    this.#channel ??= (async () => {
      const ch = await (await this.#conn.get()).createChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => {
        this.#channel = undefined;
      });
      return { ch, exchange: await declare(ch, this.#prefix) };
    })().catch((err: unknown) => {
      this.#channel = undefined;
      throw err;
    });
    return this.#channel;
  }

  /** Broadcasts that a job was cancelled. */
  async cancelled(message: JobMessage): Promise<void> {
    const { ch, exchange } = await this.#get();
    ch.publish(exchange, '', Buffer.from(JSON.stringify(message)), { contentType: 'application/json', persistent: false });
  }

  /** Closes the channel; every caller gets the first call's promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const c = await this.#channel?.catch(() => undefined);
      await c?.ch.close().catch(() => undefined);
    })();
    return this.#closing;
  }
}

/** menage's side: hears cancellations, (re)subscribing after the broker drops the channel. */
export class CancelListener {
  readonly #conn: BrokerConnection;
  readonly #prefix: string;
  readonly #handle: (m: JobMessage) => void;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #channel: Channel | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(conn: BrokerConnection, prefix: string, handle: (m: JobMessage) => void, log: Logger) {
    this.#conn = conn;
    this.#prefix = prefix;
    this.#handle = handle;
    this.#log = log;
  }

  /** Subscribes (resolving once the first attempt ends) and keeps subscribed in the background. */
  async start(): Promise<void> {
    let ready!: () => void;
    const first = new Promise<void>((resolve) => (ready = resolve));
    this.#loop = this.#run(ready);
    await first;
  }

  async #run(ready: () => void): Promise<void> {
    let delay = 500;
    while (!this.#stop.signal.aborted) {
      try {
        const ch = await (await this.#conn.get()).createChannel();
        const closed = new Promise<void>((resolve) => ch.once('close', resolve));
        ch.on('error', () => undefined);
        this.#channel = ch;
        const exchange = await declare(ch, this.#prefix);
        const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
        await ch.bindQueue(queue, exchange, '');
        await ch.consume(queue, (msg) => {
          const m = msg && parseMessage(msg.content);
          if (m) this.#handle(m);
        }, { noAck: true });
        delay = 500;
        ready();
        await Promise.race([closed, new Promise((resolve) => this.#stop.signal.addEventListener('abort', resolve, { once: true }))]);
      } catch (err) {
        ready();
        if (!this.#stop.signal.aborted) this.#log.warn({ err }, `cancel listener: ${(err as Error).message}; subscribing again`);
      }
      if (this.#stop.signal.aborted) break;
      await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 10_000);
    }
  }

  /** Stops listening; every caller gets the first call's promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      await this.#channel?.close().catch(() => undefined);
      await this.#loop;
    })();
    return this.#closing;
  }
}

import type { ConfirmChannel } from 'amqplib';
import { UnavailableError } from '../errors.js';
import type { BrokerConnection } from './connection.js';
import { declareTopology, names, PUBLISHED_AT_HEADER, type JobMessage } from './topology.js';

/**
 * Publishes job messages with publisher confirms: `publish` resolves only once the broker
 * has taken responsibility for the message (persistent, on a durable queue).
 */
export class Publisher {
  readonly #conn: BrokerConnection;
  readonly #prefix: string;
  #engines: readonly string[];
  readonly #timeoutMs: number;
  #channel: Promise<ConfirmChannel> | undefined;
  #closing: Promise<void> | undefined;

  constructor(conn: BrokerConnection, prefix: string, engines: readonly string[], timeoutMs = 10_000) {
    this.#conn = conn;
    this.#prefix = prefix;
    this.#engines = engines;
    this.#timeoutMs = timeoutMs;
  }

  /** Declares the topology now, so a broken broker shows at start-up. */
  async start(): Promise<void> {
    await this.#getChannel();
  }

  #getChannel(): Promise<ConfirmChannel> {
    if (this.#closing) return Promise.reject(new Error('the publisher is closed'));
    this.#channel ??= (async () => {
      const ch = await (await this.#conn.get()).createConfirmChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => {
        this.#channel = undefined;
      });
      await declareTopology(ch, this.#prefix, this.#engines);
      return ch;
    })().catch((err: unknown) => {
      this.#channel = undefined;
      throw err;
    });
    return this.#channel;
  }

  /**
   * Declares the queues of engines a reload added, so their uploads are never published to a
   * queue that does not exist (an unroutable message would be confirmed and lost).
   */
  async addEngines(engines: readonly string[]): Promise<void> {
    const fresh = engines.filter((e) => !this.#engines.includes(e));
    if (fresh.length === 0) return;
    const ch = await this.#getChannel();
    await declareTopology(ch, this.#prefix, fresh);
    this.#engines = [...this.#engines, ...fresh];
  }

  /** Queues one job; throws UnavailableError if the broker did not confirm in time. */
  async publish(message: JobMessage): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const ch = await this.#getChannel();
      const confirmed = new Promise<void>((resolve, reject) => {
        ch.sendToQueue(names(this.#prefix).queue(message.engine), Buffer.from(JSON.stringify({ jobId: message.jobId, engine: message.engine })),
          { persistent: true, contentType: 'application/json', messageId: message.jobId, mandatory: true, headers: { [PUBLISHED_AT_HEADER]: Date.now() } },
          (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no publisher confirm in time')), this.#timeoutMs);
      });
      await Promise.race([confirmed, timeout]);
    } catch (err) {
      throw new UnavailableError('BROKER_UNAVAILABLE', 'the job queue is not available; the upload was not kept, try again', { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits for confirms still due on its channel, then closes it; later publishes fail at once.
   * Every caller gets the first call's promise.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const ch = await this.#channel?.catch(() => undefined);
      this.#channel = undefined;
      if (!ch) return;
      await ch.waitForConfirms().catch(() => undefined);
      await ch.close().catch(() => undefined);
    })();
    return this.#closing;
  }
}

import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BrokerConnection } from './connection.js';
import { declareTopology, names, parseMessage, type JobMessage } from './topology.js';
import type { Logger } from '../log/logger.js';

export interface DeadLetterOptions {
  prefix: string;
  engines: readonly string[];
  /** Settles the job of a dead-lettered message; throws to have it retried later. */
  handle: (message: JobMessage, deliveries: number) => Promise<void>;
  log: Logger;
}

/**
 * Drains the dead-letter queue: a job whose message was dead-lettered is settled (so it
 * cannot wait forever), and malformed messages are parked on the poison queue, where an
 * operator can look at them. Reconnects like the engine consumers.
 */
export class DeadLetterConsumer {
  readonly #conn: BrokerConnection;
  readonly #o: DeadLetterOptions;
  readonly #stop = new AbortController();
  #channel: ConfirmChannel | undefined;
  #closing: Promise<void> | undefined;
  #loop: Promise<void> | undefined;

  constructor(conn: BrokerConnection, options: DeadLetterOptions) {
    this.#conn = conn;
    this.#o = options;
  }

  /** Starts consuming in the background. */
  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    let delay = 500;
    while (!this.#stop.signal.aborted) {
      try {
        const ch = await (await this.#conn.get()).createConfirmChannel();
        const closed = new Promise<void>((resolve) => ch.once('close', resolve));
        ch.on('error', () => undefined);
        // Known to close() from now on. A close() that came while the channel was being opened
        // found none to close: without this check the loop would wait on it forever.
        this.#channel = ch;
        if (this.#stop.signal.aborted) {
          await ch.close().catch(() => undefined);
          break;
        }
        await declareTopology(ch, this.#o.prefix, this.#o.engines);
        await ch.prefetch(1);
        await ch.consume(names(this.#o.prefix).deadLetter, (m) => void this.#settle(ch, m), { noAck: false });
        delay = 500;
        await closed;
      } catch (err) {
        this.#o.log.error({ err }, `dead letters: ${(err as Error).message}`);
      }
      this.#channel = undefined;
      await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, 15_000);
    }
  }

  async #settle(ch: ConfirmChannel, raw: ConsumeMessage | null): Promise<void> {
    if (!raw) return;
    const message = parseMessage(raw.content);
    try {
      if (message) {
        await this.#o.handle(message, deliveries(raw));
      } else {
        ch.sendToQueue(names(this.#o.prefix).poison, raw.content, { persistent: true, headers: raw.properties.headers });
        await ch.waitForConfirms();
        this.#o.log.warn('dead letters: a malformed message was parked on the poison queue');
      }
      ch.ack(raw);
    } catch (err) {
      this.#o.log.warn({ err }, `dead letters: will retry: ${(err as Error).message}`);
      await sleep(2000, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      try {
        ch.nack(raw, false, true);
      } catch {
        // channel gone: the broker redelivers
      }
    }
  }

  /** Stops consuming; every caller gets the first call's promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      await this.#channel?.close().catch(() => undefined);
      await this.#loop;
    })();
    return this.#closing;
  }
}

function deliveries(raw: ConsumeMessage): number {
  const h = (raw.properties.headers ?? {}) as Record<string, unknown>;
  const death = Array.isArray(h['x-death']) ? (h['x-death'][0] as { count?: number } | undefined) : undefined;
  return Number(h['x-delivery-count'] ?? death?.count ?? 0);
}

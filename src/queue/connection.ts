import { connect, type ChannelModel } from 'amqplib';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';

/**
 * One lazily (re)established connection to RabbitMQ. Users ask for it when they need it;
 * after the broker drops it the next `get()` connects again. Emits `lost` when it drops.
 */
export class BrokerConnection extends EventEmitter {
  readonly #url: string;
  readonly #ca: Buffer | string | undefined;
  #model: ChannelModel | undefined;
  #connecting: Promise<ChannelModel> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** `ca`: PEM certificates an amqps:// broker's certificate must chain to (default: the system's). */
  constructor(url: string, opts: { ca?: Buffer | string } = {}) {
    super();
    this.#ca = opts.ca;
    const u = new URL(url);
    if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', '15');
    this.#url = u.toString();
  }

  /** The live connection, connecting first if there is none. */
  async get(): Promise<ChannelModel> {
    if (this.#closed) throw new Error('broker connection closed');
    if (this.#model) return this.#model;
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<ChannelModel> {
    const model = await connect(this.#url, { timeout: 5000, ...(this.#ca ? { ca: [this.#ca] } : {}) });
    model.on('error', () => undefined); // 'close' follows and is handled there
    model.on('close', () => {
      if (this.#model === model) this.#model = undefined;
      if (!this.#closed) this.emit('lost');
    });
    if (this.#closed) {
      await model.close().catch(() => undefined);
      throw new Error('broker connection closed');
    }
    this.#model = model;
    return model;
  }

  /** Whether a connection is open right now. */
  get connected(): boolean {
    return this.#model !== undefined;
  }

  /** Closes the connection; every caller gets the first call's promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const model = this.#model ?? (await this.#connecting?.catch(() => undefined));
      this.#model = undefined;
      await model?.close().catch(() => undefined);
    })();
    return this.#closing;
  }
}

/** The TLS options of the configured broker: its CA file, read now. */
export function brokerTls(config: { rabbitmq: { ca?: string } }): { ca?: Buffer } {
  return config.rabbitmq.ca ? { ca: readFileSync(config.rabbitmq.ca) } : {};
}

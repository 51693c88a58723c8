import { Writable } from 'node:stream';

/**
 * Keeps the last `limit` bytes of an engine's stdout and stderr (interleaved as they came),
 * however much it writes: memory stays bounded by about twice the limit.
 */
export class LogTail {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #dropped = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** A sink to write into (one per stream is fine: they share the tail). */
  writable(): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.push(chunk);
        done();
      },
    });
  }

  /** Adds output. */
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#size > 2 * this.#limit) this.#compact();
  }

  #compact(): void {
    const all = Buffer.concat(this.#chunks);
    const keep = all.subarray(all.length - this.#limit);
    this.#dropped += all.length - keep.length;
    this.#chunks = [Buffer.from(keep)];
    this.#size = keep.length;
  }

  /** The kept output as text, with a note of how much was cut off before it. */
  text(): string {
    this.#compact();
    const body = Buffer.concat(this.#chunks).toString('utf8');
    return this.#dropped > 0 ? `[${this.#dropped} earlier bytes of output dropped]\n${body}` : body;
  }
}

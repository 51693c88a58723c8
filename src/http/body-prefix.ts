import type { Readable } from 'node:stream';
import { InvalidError } from '../errors.js';

/**
 * Reads exactly the first `n` bytes of a stream and leaves the rest in it, paused, for the
 * next reader. Refuses a stream that ends or fails before `n` bytes.
 */
export function readPrefix(stream: Readable, n: number, what = 'the report'): Promise<Buffer> {
  if (n === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    const short = (): InvalidError => new InvalidError('INVALID_REQUEST', `the body ended before its first ${n} bytes (${what})`);
    const finish = (err: Error | undefined, value?: Buffer): void => {
      stream.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onEnd);
      if (err) reject(err);
      else resolve(value as Buffer);
    };
    const onReadable = (): void => {
      const chunk = stream.read(n) as Buffer | null;
      if (chunk === null) return;
      if (chunk.length < n) finish(short());
      else finish(undefined, chunk);
    };
    const onEnd = (): void => finish(short());
    const onError = (err: Error): void => finish(err);
    stream.on('readable', onReadable).on('end', onEnd).on('error', onError).on('close', onEnd);
    onReadable();
  });
}

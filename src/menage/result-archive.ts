import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { extract, pack, type Header } from 'tar-stream';
import { quote, REASONS } from './failure-reasons.js';

/** Why an engine's result was refused; the job fails with this reason. */
export class ResultRefused extends Error {}

const TYPE_NAMES: Record<string, string> = {
  directory: 'a directory',
  symlink: 'a symbolic link',
  link: 'a hard link',
  'character-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a FIFO',
  'contiguous-file': 'a contiguous file',
};

/** What Docker says about a path (the X-Docker-Container-Path-Stat header, Go's FileMode bits). */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  linkTarget?: string;
}

// Go's os.FileMode type bits, as Docker serialises them.
const MODE_BITS: [number, string][] = [
  [2 ** 31, 'a directory'],
  [2 ** 27, 'a symbolic link'],
  [2 ** 26, 'a device'],
  [2 ** 25, 'a FIFO'],
  [2 ** 24, 'a socket'],
  [2 ** 21, 'a character device'],
  [2 ** 19, 'an irregular file'],
];

/** Decodes Docker's base64 JSON path-stat header; undefined when absent or unreadable. */
export function parsePathStat(header: string | string[] | undefined): PathStat | undefined {
  if (typeof header !== 'string') return undefined;
  try {
    const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as Partial<PathStat>;
    if (typeof stat.mode !== 'number' || typeof stat.size !== 'number') return undefined;
    return { name: String(stat.name ?? ''), size: stat.size, mode: stat.mode, linkTarget: stat.linkTarget ?? '' };
  } catch {
    return undefined;
  }
}

/** Refuses a result from its stat alone (before reading a byte): the reason, or undefined. */
export function checkPathStat(stat: PathStat, limit: number): string | undefined {
  // Bitwise operators would truncate to int32; the directory bit is 2^31.
  const kind = MODE_BITS.find(([bit]) => Math.floor(stat.mode / bit) % 2 === 1)?.[1];
  if (kind) {
    const target = kind === 'a symbolic link' && stat.linkTarget ? ` to ${quote(stat.linkTarget)}` : '';
    return `${REASONS.notRegular}: result is ${kind}${target}`;
  }
  if (stat.size > limit) return tooLarge(stat.size, limit);
  return undefined;
}

/** Refuses a tar entry: the reason, or undefined for one regular file named `result`. */
export function checkEntry(header: Pick<Header, 'name' | 'type' | 'size' | 'linkname'>, limit: number): string | undefined {
  const type = header.type ?? 'file';
  if (type !== 'file') {
    const target = header.linkname ? ` to ${quote(header.linkname)}` : '';
    return `${REASONS.notRegular}: result is ${TYPE_NAMES[type] ?? `of type ${quote(type)}`}${target}`;
  }
  if (header.name !== 'result') return `${REASONS.notRegular}: the archive holds ${quote(header.name)}, not result`;
  if ((header.size ?? 0) > limit) return tooLarge(header.size ?? 0, limit);
  return undefined;
}

function tooLarge(size: number, limit: number): string {
  return `${REASONS.tooLarge}: ${size} bytes, the limit is ${limit}`;
}

/**
 * Reads the archive Docker returns for `<mountpoint>/result` without extracting anything:
 * it must hold exactly one regular file named `result`, no larger than `limit`. The content
 * is handed to `deliver` as a stream (memory stays flat); that stream only ends once the
 * archive is known to hold nothing else, so a refused archive never becomes a result.
 */
export function readResultArchive(archive: Readable, limit: number, deliver: (body: Readable, size: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    let body: PassThrough | undefined;
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err) {
        body?.destroy(err instanceof Error ? err : new Error(String(err)));
        ex.destroy();
        archive.destroy();
        reject(err);
      } else resolve();
    };
    let copied: Promise<void> | undefined;
    ex.on('entry', (header, stream, next) => {
      if (body) {
        stream.resume();
        finish(new ResultRefused(`${REASONS.notRegular}: the archive holds more than one entry`));
        return;
      }
      const problem = checkEntry(header, limit);
      if (problem) {
        stream.resume();
        finish(new ResultRefused(problem));
        return;
      }
      // A tiny high-water mark: whoever reads `out` gets backpressure chunk by chunk, even
      // Node 20's Readable.toWeb, which takes the byte mark for a count of chunks and would
      // otherwise buffer thousands of them (a whole large result) in memory.
      const out = new PassThrough({ highWaterMark: 1 });
      body = out;
      copied = copy(stream as AsyncIterable<Buffer>, out, limit);
      copied.then(() => next(), finish);
      deliver(out, header.size ?? 0).then(() => {
        delivered = true;
        if (ended) finish();
        else out.resume(); // answered before reading it all (e.g. a stale lease): drain the rest
      }, finish);
    });
    let delivered = false;
    let ended = false;
    ex.on('finish', () => {
      if (!body || !copied) {
        finish(new ResultRefused(REASONS.noResult));
        return;
      }
      const out = body;
      copied.then(() => {
        ended = true;
        out.end();
        if (delivered) finish();
      }, finish);
    });
    ex.on('error', (err) => finish(new ResultRefused(`${REASONS.notRegular}: the result archive is unreadable (${err.message})`)));
    archive.on('error', (err) => finish(err));
    archive.pipe(ex);
  });
}

/** Copies an entry's bytes into `out` with backpressure, refusing more than `limit` (a lying header). */
async function copy(entry: AsyncIterable<Buffer>, out: PassThrough, limit: number): Promise<void> {
  let n = 0;
  for await (const chunk of entry) {
    n += chunk.length;
    if (n > limit) throw new ResultRefused(tooLarge(n, limit));
    if (!out.write(chunk)) await once(out, 'drain');
  }
}

/** Packs one input file into a tar stream for putArchive, owned by the engine's user. */
export function packInput(name: string, body: Readable, size: number, owner: { uid: number; gid: number }): Readable {
  const p = pack();
  const entry = p.entry({ name, size, mode: 0o444, uid: owner.uid, gid: owner.gid, type: 'file' }, (err) => {
    if (err) p.destroy(err);
    else p.finalize();
  });
  body.on('error', (err) => p.destroy(err));
  body.pipe(entry as unknown as NodeJS.WritableStream);
  return Readable.from(p);
}

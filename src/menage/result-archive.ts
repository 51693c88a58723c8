import { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';

/** Why an engine's result was refused; the job fails with this reason. */
export class ResultRefused extends Error {}

const TYPE_NAMES: Record<string, string> = {
  directory: 'a directory',
  symlink: 'a symbolic link',
  link: 'a hard link',
  'character-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a FIFO',
};

/**
 * Reads the archive Docker returns for `<mountpoint>/result` without extracting anything:
 * the first entry must be one regular file named `result`, no larger than `limit`. Its
 * content is handed to `deliver` as a stream (memory stays flat); anything else is refused.
 */
export function readResultArchive(archive: Readable, limit: number, deliver: (body: Readable, size: number) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const ex = extract();
    let seen = false;
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err) {
        ex.destroy();
        archive.destroy();
        reject(err);
      } else resolve();
    };
    ex.on('entry', (header, stream, next) => {
      if (seen) {
        finish(new ResultRefused('result is not a single regular file'));
        return;
      }
      seen = true;
      const problem = check(header.name, header.type ?? 'file', header.size ?? 0, limit);
      if (problem) {
        stream.resume();
        finish(new ResultRefused(problem));
        return;
      }
      deliver(Readable.from(stream), header.size ?? 0).then(() => {
        stream.resume();
        next();
      }, finish);
    });
    ex.on('finish', () => (seen ? finish() : finish(new ResultRefused('no result file'))));
    ex.on('error', (err) => finish(new ResultRefused(`result archive unreadable: ${err.message}`)));
    archive.on('error', (err) => finish(err));
    archive.pipe(ex);
  });
}

function check(name: string, type: string, size: number, limit: number): string | undefined {
  if (type !== 'file') return `result is ${TYPE_NAMES[type] ?? `not a regular file (${type})`}, not a regular file`;
  if (name !== 'result') return 'result is not a single regular file';
  if (size > limit) return `result too large: ${size} bytes, the limit is ${limit}`;
  return undefined;
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

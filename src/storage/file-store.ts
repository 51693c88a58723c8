import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidJobId, TooLargeError } from '../errors.js';
import { isJobId } from '../contract/ids.js';

/** The files a job may have in the store. */
export type StoredFile = 'input' | 'result' | 'error' | 'log';

/** What was written by a streaming write. */
export interface Written {
  path: string;
  size: number;
  sha256: string;
  /** The first bytes of the content (for summaries). */
  head: Buffer;
  /** Set once the file was moved into a job's folder (see FileStore.take): nothing is left to remove. */
  moved?: boolean;
}

const HEAD_BYTES = 80;

/**
 * How much a write may hold in memory between its stages (hash, disk). Node's default (16 KiB)
 * is below one socket read (64 KiB), so every chunk stopped the upload until the disk had
 * written it; with room for a few chunks the hash of the next overlaps the write of the last,
 * and queued chunks go to disk in one writev. Bounded: a few MiB per upload at most.
 */
export const WRITE_BUFFER_BYTES = 1 << 20;
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '_');

/** Whether a temporary file was written by a process of this host that no longer runs. */
function deadLocalWriter(name: string): boolean {
  const [host, pid] = name.split('.');
  if (host !== HOST || !/^\d+$/.test(pid ?? '') || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Thrown by a write that went over its byte limit; the partial file is already gone. */
export class LimitExceeded extends TooLargeError {}

/**
 * The file store: `<root>/<jobid>/{input,result,error,log}`. Writes go to a temporary name
 * first and are renamed into place, so a reader never sees a partial file. Paths are built
 * only from validated job ids and fixed names: nothing from uploads or engines names a path.
 */
export class FileStore {
  readonly root: string;
  readonly #tmp: string;

  constructor(root: string) {
    this.root = root;
    this.#tmp = join(root, '.tmp');
  }

  /**
   * Creates the store folders and removes temporary files left by a crash: at once those
   * of dead processes on this host, after `maxTmpAgeMs` any other (another host's uploads
   * may still be running on a shared store).
   */
  async init(maxTmpAgeMs = 3600_000): Promise<void> {
    await mkdir(this.#tmp, { recursive: true, mode: 0o700 });
    await this.sweepTmp(maxTmpAgeMs);
  }

  /**
   * Removes temporary files not written for `maxAgeMs` and those of dead local processes;
   * returns how many went. A running write touches its file with every chunk, so only
   * abandoned files grow old. The frontend runs this periodically as a backstop.
   */
  async sweepTmp(maxAgeMs: number): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const name of await readdir(this.#tmp).catch(() => [] as string[])) {
      const p = join(this.#tmp, name);
      const s = await stat(p).catch(() => undefined);
      if ((s && now - s.mtimeMs > maxAgeMs) || deadLocalWriter(name)) {
        await rm(p, { force: true, recursive: true });
        removed++;
      }
    }
    return removed;
  }

  /** Names of the temporary files present now (for checks that nothing was left behind). */
  async listTmp(): Promise<string[]> {
    return readdir(this.#tmp).catch(() => [] as string[]);
  }

  /** Resolves when the store takes a write now (readiness): a tiny temporary file is written and removed. */
  async probe(): Promise<void> {
    const p = this.tmpPath();
    const handle = await open(p, 'wx', 0o600);
    try {
      await handle.writeFile('ready');
    } finally {
      await handle.close();
      await unlink(p).catch(() => undefined);
    }
  }

  /** A fresh temporary path on the store's file system, named after its writer. */
  tmpPath(): string {
    return join(this.#tmp, `${HOST}.${process.pid}.${randomBytes(9).toString('hex')}`);
  }

  /** The folder of one job. */
  dir(id: string): string {
    if (!isJobId(id)) throw invalidJobId(id);
    return join(this.root, id);
  }

  /** The path of one of a job's files. */
  path(id: string, file: StoredFile): string {
    return join(this.dir(id), file);
  }

  /**
   * Streams `source` to `dest`, hashing and counting; over `limit` bytes the write stops,
   * the partial file is removed and LimitExceeded is thrown. Any failure removes the file.
   */
  async write(dest: string, source: Readable, limit: number, what = 'file'): Promise<Written> {
    const hash = createHash('sha256');
    let size = 0;
    const heads: Buffer[] = [];
    let headLen = 0;
    const meter = new Transform({
      highWaterMark: WRITE_BUFFER_BYTES,
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit) {
          done(new LimitExceeded(`${what} is larger than the limit of ${limit} bytes`));
          return;
        }
        if (headLen < HEAD_BYTES) {
          heads.push(chunk.subarray(0, HEAD_BYTES - headLen));
          headLen += Math.min(chunk.length, HEAD_BYTES - headLen);
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // Open before streaming: a stream that opens lazily could create the file after a
    // failure had already removed it.
    const handle = await open(dest, 'wx', 0o600);
    try {
      // pipeline() never settles for a source destroyed before it starts (Node 20).
      if (source.destroyed) throw source.errored ?? new Error(`${what} stream closed before it was written`);
      await pipeline(source, meter, handle.createWriteStream({ highWaterMark: WRITE_BUFFER_BYTES }));
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(dest).catch(() => undefined);
      throw err;
    }
    return { path: dest, size, sha256: hash.digest('hex'), head: Buffer.concat(heads) };
  }

  /** Moves a finished temporary file into a job's folder under its final name. */
  async place(id: string, from: string, file: StoredFile): Promise<void> {
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
    await rename(from, this.path(id, file));
  }

  /**
   * Moves a temporary upload into a job's folder as `file` (one rename: cheaper than a link
   * and the temporary file's removal, for the last job that needs the bytes) and marks it moved.
   */
  async take(upload: Written, id: string, file: StoredFile): Promise<void> {
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
    await rename(upload.path, this.path(id, file));
    upload.moved = true;
  }

  /**
   * Hard-links `from` (a temporary upload) into a job's folder as `file`: several jobs share
   * one copy of the bytes, and removing one job's folder (retention) leaves the others' intact.
   */
  async link(from: string, id: string, file: StoredFile): Promise<void> {
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
    await link(from, this.path(id, file));
  }

  /**
   * Hard-links a job's `file` to a fresh temporary path (to share it with a new job); undefined
   * when the job has no such file any more (retention).
   */
  async share(id: string, file: StoredFile): Promise<string | undefined> {
    const to = this.tmpPath();
    try {
      await link(this.path(id, file), to);
      return to;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * A fresh staging path inside the job's folder for `file`, written on behalf of `tag` (a
   * lease): it becomes the file only through commit(), so a reader never sees a partial one.
   */
  async stage(id: string, file: StoredFile, tag: string): Promise<string> {
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
    return join(this.dir(id), `.${file}-${tag}.${randomBytes(4).toString('hex')}`);
  }

  /** Moves a staged file into place as the job's `file`. */
  async commit(id: string, file: StoredFile, staged: string): Promise<void> {
    await rename(staged, this.path(id, file));
  }

  /** Commits a file staged for `tag` that a crash left uncommitted; false if there is none. */
  async recover(id: string, file: StoredFile, tag: string): Promise<boolean> {
    const names = await readdir(this.dir(id)).catch(() => [] as string[]);
    const staged = names.find((n) => n.startsWith(`.${file}-${tag}.`));
    if (!staged) return false;
    await this.commit(id, file, join(this.dir(id), staged));
    return true;
  }

  /** Opens a job's file for reading, with its size; undefined if it does not exist. */
  async open(id: string, file: StoredFile): Promise<{ stream: ReadStream; size: number } | undefined> {
    const p = this.path(id, file);
    const s = await stat(p).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    return { stream: createReadStream(p), size: s.size };
  }

  /** Removes staging files a job no longer needs (partial writes of crashed or stale attempts). */
  async dropStaging(id: string, files: StoredFile[]): Promise<void> {
    const names = await readdir(this.dir(id)).catch(() => [] as string[]);
    for (const n of names) {
      if (files.some((f) => n.startsWith(`.${f}-`))) await rm(join(this.dir(id), n), { force: true });
    }
  }

  /** Removes a file, ignoring one that is not there. */
  async discard(path: string): Promise<void> {
    // unlink, not rm: rm stats the path first, one more trip to the thread pool per upload.
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Job folders in the store with their age in ms (for the retention sweep). */
  async listJobs(): Promise<{ id: string; ageMs: number }[]> {
    const out: { id: string; ageMs: number }[] = [];
    for (const name of await readdir(this.root)) {
      if (!isJobId(name)) continue;
      const s = await stat(join(this.root, name)).catch(() => undefined);
      if (s?.isDirectory()) out.push({ id: name, ageMs: Date.now() - s.mtimeMs });
    }
    return out;
  }

  /** Removes a job's folder and everything in it. */
  async removeJob(id: string): Promise<void> {
    await rm(this.dir(id), { recursive: true, force: true });
  }
}

import busboy from 'busboy';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '../src/storage/file-store.js';

/**
 * Where the upload path's time goes (bench/README.md, "Upload"): the same in-memory multipart
 * body of `mib` MiB, in socket-sized chunks, through each stage alone and then all together,
 * in one process (no client, no HTTP). Each stage twice, alternating; best of each printed.
 */
export async function runUploadParts(o: { mib: number; print: (line: string) => void }): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'menagerie-parts-'));
  const files = new FileStore(dir);
  await files.init();
  const stages: Record<string, () => Promise<void>> = {
    'source only': () => pipeline(body(o.mib), sink()),
    'sha256 of the body': async () => {
      const hash = createHash('sha256');
      await pipeline(body(o.mib), new Writable({ write(c: Buffer, _e, done) { hash.update(c); done(); } }));
      hash.digest();
    },
    'write to disk (fs stream)': () => pipeline(body(o.mib), createWriteStream(join(dir, 'w'))),
    'write to disk, 1 MiB buffers': () => pipeline(body(o.mib), createWriteStream(join(dir, 'w'), { highWaterMark: 1 << 20 })),
    'busboy parse, file discarded': () => parse(o.mib, (file) => pipeline(file, sink())),
    'busboy + FileStore.write (the upload path)': () => parse(o.mib, async (file) => {
      const w = await files.write(files.tmpPath(), file, Number.MAX_SAFE_INTEGER);
      await files.discard(w.path);
    }),
    'busboy + hash + write, 1 MiB buffers': () => parse(o.mib, async (file) => {
      const hash = createHash('sha256');
      const meter = new Transform({ highWaterMark: 1 << 20, transform(c: Buffer, _e, done) { hash.update(c); done(null, c); } });
      await pipeline(file, meter, createWriteStream(join(dir, 'w2'), { highWaterMark: 1 << 20 }));
    }, 1 << 20),
  };
  const best = new Map<string, number>();
  try {
    for (let round = 0; round < 2; round++) {
      for (const [name, stage] of Object.entries(stages)) {
        const started = performance.now();
        await stage();
        const s = (performance.now() - started) / 1000;
        best.set(name, Math.min(best.get(name) ?? Infinity, s));
      }
      await rm(join(dir, 'w'), { force: true });
      await rm(join(dir, 'w2'), { force: true });
    }
    for (const [name, s] of best) o.print(`${name}: ${s.toFixed(2)} s, ${(o.mib / s).toFixed(0)} MiB/s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const BOUNDARY = 'menagerie-bench-boundary';
const CHUNK = 64 * 1024;

/** A multipart body with one file field of `mib` MiB, in 64 KiB chunks (what a socket gives). */
function body(mib: number): Readable {
  const head = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="big"\r\n`
    + 'Content-Type: application/octet-stream\r\n\r\n');
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const data = Buffer.alloc(CHUNK, 'abcdefghijklmnopqrstuvwxyz0123456789');
  const chunks = (mib * 1024 * 1024) / CHUNK;
  return Readable.from((function* parts() {
    yield head;
    for (let i = 0; i < chunks; i++) yield Buffer.from(data);
    yield tail;
  })(), { objectMode: false });
}

function sink(): Writable {
  return new Writable({ write(_c, _e, done) { done(); } });
}

/** Parses the body with busboy as the frontend does; `onFile` consumes the file stream. */
function parse(mib: number, onFile: (file: Readable) => Promise<void>, hwm?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const parser = busboy({ headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, ...(hwm ? { fileHwm: hwm, highWaterMark: hwm } : {}) });
    let done: Promise<void> = Promise.resolve();
    parser.on('file', (_name, file) => {
      done = onFile(file);
    });
    parser.on('error', reject);
    parser.on('finish', () => done.then(resolve, reject));
    body(mib).pipe(parser);
  });
}

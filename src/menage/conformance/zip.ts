import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { constants, crc32, createDeflateRaw } from 'node:zlib';

/** One entry of a zip being written: its name and its content, produced in chunks. */
export interface ZipEntry {
  name: string;
  chunks: () => Iterable<Buffer>;
}

interface Written { name: Buffer; crc: number; compressed: number; size: number; offset: number }

/**
 * Writes a zip file (deflated entries, no zip64) by streaming: a 512 MiB entry of zeros costs
 * about half a megabyte on disk and never sits in memory. For the conformance kit's samples.
 */
export async function writeZip(path: string, entries: readonly ZipEntry[]): Promise<void> {
  const out = createWriteStream(path);
  const failed = once(out, 'error').then(([e]) => { throw e as Error; });
  failed.catch(() => undefined);
  await buildZip(entries, async (b) => {
    if (!out.write(b)) await Promise.race([once(out, 'drain'), failed]);
  });
  await close(out, failed);
}

/** The same zip in memory: the kit's samples are small once deflated (a zip bomb is ~0.5 MiB). */
export async function zipToBuffer(entries: readonly ZipEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await buildZip(entries, async (b) => {
    chunks.push(Buffer.from(b));
  });
  return Buffer.concat(chunks);
}

async function buildZip(entries: readonly ZipEntry[], sink: (b: Buffer) => Promise<void>): Promise<void> {
  let offset = 0;
  const put = async (b: Buffer): Promise<void> => {
    offset += b.length;
    await sink(b);
  };
  const written: Written[] = [];
  for (const entry of entries) written.push(await writeEntry(entry, offset, put));
  const start = offset;
  for (const w of written) await put(centralHeader(w));
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(written.length, 8);
  end.writeUInt16LE(written.length, 10);
  end.writeUInt32LE(offset - start, 12);
  end.writeUInt32LE(start, 16);
  await put(end);
}

async function writeEntry(entry: ZipEntry, offset: number, put: (b: Buffer) => Promise<void>): Promise<Written> {
  const name = Buffer.from(entry.name, 'utf8');
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(0x0008, 6); // sizes and crc follow the data (data descriptor)
  header.writeUInt16LE(8, 8);
  header.writeUInt16LE(name.length, 26);
  await put(Buffer.concat([header, name]));
  const deflate = createDeflateRaw({ level: constants.Z_BEST_COMPRESSION });
  let crc = 0;
  let size = 0;
  let compressed = 0;
  const drained = (async () => {
    for await (const c of deflate) {
      compressed += (c as Buffer).length;
      await put(c as Buffer);
    }
  })();
  for (const chunk of entry.chunks()) {
    crc = crc32(chunk, crc);
    size += chunk.length;
    if (!deflate.write(chunk)) await once(deflate, 'drain');
  }
  deflate.end();
  await drained;
  const descriptor = Buffer.alloc(16);
  descriptor.writeUInt32LE(0x08074b50, 0);
  descriptor.writeUInt32LE(crc >>> 0, 4);
  descriptor.writeUInt32LE(compressed, 8);
  descriptor.writeUInt32LE(size >>> 0, 12);
  await put(descriptor);
  return { name, crc: crc >>> 0, compressed, size: size >>> 0, offset };
}

function centralHeader(w: Written): Buffer {
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(20, 6);
  h.writeUInt16LE(0x0008, 8);
  h.writeUInt16LE(8, 10);
  h.writeUInt32LE(w.crc, 16);
  h.writeUInt32LE(w.compressed, 20);
  h.writeUInt32LE(w.size, 24);
  h.writeUInt16LE(w.name.length, 28);
  h.writeUInt32LE(w.offset, 42);
  return Buffer.concat([h, w.name]);
}

async function close(out: WriteStream, failed: Promise<never>): Promise<void> {
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
}

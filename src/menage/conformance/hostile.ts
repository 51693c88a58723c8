import { Readable } from 'node:stream';
import { zipToBuffer } from './zip.js';

/** One sample of the hostile set: what it is, how to read it, and the upload name it stands for. */
export interface HostileSample {
  case: string;
  size: number;
  /** A fresh stream of the sample's bytes (each run reads it anew). */
  open: () => Readable;
  /** The name an analyst's upload would carry (the engine always sees its `inputfilename`). */
  uploadName: string;
  note: string;
}

const MiB = 1024 * 1024;

/**
 * The hostile set: a zero-byte file, a file of exactly `sizelimit` bytes, a sample uploaded
 * under a non-UTF-8 name, a zip bomb, a deeply nested archive, a truncated file and a file
 * built to make signature scanners and parsers work as hard as they can. `seed` is a valid
 * sample (a golden input) that the truncated and renamed cases start from. Nothing is written
 * to disk (menage's /tmp is a small tmpfs): the size-limit sample is generated as it streams,
 * the others are at most a few MiB in memory.
 */
export async function hostileSet(sizelimit: number, seed: Buffer | undefined): Promise<HostileSample[]> {
  const base = seed ?? Buffer.from('a plain sample for the conformance kit\n');
  const bomb = await zipToBuffer([{ name: 'bomb.bin', chunks: () => zeros(Math.min(512 * MiB, 2 ** 32 - 1)) }]);
  const nested = await nestedZip(64);
  const truncated = base.subarray(0, Math.max(1, Math.floor(base.length / 2)));
  const storm = signatureStorm(Math.min(8 * MiB, sizelimit));
  const held = (data: Buffer) => ({ size: data.length, open: () => Readable.from([data]) });
  return [
    { case: 'zero-byte', ...held(Buffer.alloc(0)), uploadName: 'empty', note: 'an empty file' },
    { case: 'size-limit', size: sizelimit, open: () => Readable.from(exactSize(sizelimit)), uploadName: 'big.bin', note: `exactly ${sizelimit} bytes (the engine's sizelimit)` },
    { case: 'non-utf8-name', ...held(base), uploadName: Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]).toString('latin1'), note: 'uploaded as "f\\xff\\xfe.bin"; engines only ever see their inputfilename' },
    { case: 'zip-bomb', ...held(bomb), uploadName: 'bomb.zip', note: '512 MiB of zeros deflated to a small zip' },
    { case: 'nested-archive', ...held(nested), uploadName: 'nested.zip', note: 'a zip in a zip, 64 levels deep' },
    { case: 'truncated', ...held(truncated), uploadName: 'truncated', note: 'the first half of a valid sample' },
    { case: 'loop', ...held(storm), uploadName: 'storm.bin', note: 'magic numbers back to back, to keep scanners and parsers busy' },
  ];
}

function* zeros(total: number): Iterable<Buffer> {
  const chunk = Buffer.alloc(MiB);
  for (let left = total; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}

/** Exactly `size` bytes of a repeating, incompressible-looking pattern, one MiB block at a time. */
function* exactSize(size: number): Iterable<Buffer> {
  const block = Buffer.alloc(MiB);
  for (let i = 0, x = 2463534242; i < block.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    block[i] = x & 0xff;
  }
  for (let left = size; left > 0; left -= block.length) yield left >= block.length ? block : block.subarray(0, left);
}

/** A zip holding a zip holding … `depth` levels, with a text file at the bottom. */
async function nestedZip(depth: number): Promise<Buffer> {
  let inner: Buffer = Buffer.from('the bottom of a deeply nested archive\n');
  let name = 'bottom.txt';
  for (let level = 0; level < depth; level++) {
    const content = inner;
    inner = await zipToBuffer([{ name, chunks: () => [content] }]);
    name = `level-${depth - level}.zip`;
  }
  return inner;
}

/** Magic numbers of many formats back to back: zip, gzip, PE, ELF, PNG, OLE, PDF, … */
function signatureStorm(size: number): Buffer {
  const magics = [
    Buffer.from('504b0304140000000800', 'hex'), Buffer.from('1f8b0800000000000003', 'hex'),
    Buffer.from('4d5a90000300000004000000ffff', 'hex'), Buffer.from('7f454c46020101', 'hex'),
    Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.from('d0cf11e0a1b11ae1', 'hex'),
    Buffer.from('%PDF-1.7\n'), Buffer.from('Rar!\x1a\x07\x00'), Buffer.from('7z\xbc\xaf\x27\x1c', 'latin1'),
    Buffer.from('425a6839314159265359', 'hex'), Buffer.from('fd377a585a00', 'hex'),
  ];
  const unit = Buffer.concat(magics);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += unit.length) unit.copy(out, i, 0, Math.min(unit.length, size - i));
  return out;
}

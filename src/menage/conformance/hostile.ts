import { createWriteStream } from 'node:fs';
import { copyFile, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { writeZip } from './zip.js';

/** One sample of the hostile set: what it is, its file, and the upload name it stands for. */
export interface HostileSample {
  case: string;
  path: string;
  /** The name an analyst's upload would carry (the engine always sees its `inputfilename`). */
  uploadName: string;
  note: string;
}

const MiB = 1024 * 1024;

/**
 * Writes the hostile set into `dir`: a zero-byte file, a file of exactly `sizelimit` bytes, a
 * sample uploaded under a non-UTF-8 name, a zip bomb, a deeply nested archive, a truncated
 * file and a file built to make signature scanners and parsers work as hard as they can.
 * `seed` is a valid sample (a golden input) that the truncated and renamed cases start from.
 */
export async function writeHostileSet(dir: string, sizelimit: number, seed: string | undefined): Promise<HostileSample[]> {
  const at = (name: string): string => join(dir, name);
  await writeFile(at('zero'), Buffer.alloc(0));
  await writeExactSize(at('exact-size'), sizelimit);
  const base = seed ?? at('plain');
  if (!seed) await writeFile(base, 'a plain sample for the conformance kit\n');
  await copyFile(base, at('non-utf8-name'));
  await writeZip(at('zip-bomb'), [{ name: 'bomb.bin', chunks: () => zeros(Math.min(512 * MiB, 2 ** 32 - 1)) }]);
  await writeNested(dir, at('nested'), 64);
  const whole = await readFile(base);
  await writeFile(at('truncated'), whole.subarray(0, Math.max(1, Math.floor(whole.length / 2))));
  await writeFile(at('loop'), signatureStorm(Math.min(8 * MiB, sizelimit)));
  return [
    { case: 'zero-byte', path: at('zero'), uploadName: 'empty', note: 'an empty file' },
    { case: 'size-limit', path: at('exact-size'), uploadName: 'big.bin', note: `exactly ${sizelimit} bytes (the engine's sizelimit)` },
    { case: 'non-utf8-name', path: at('non-utf8-name'), uploadName: Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]).toString('latin1'), note: 'uploaded as "f\\xff\\xfe.bin"; engines only ever see their inputfilename' },
    { case: 'zip-bomb', path: at('zip-bomb'), uploadName: 'bomb.zip', note: '512 MiB of zeros deflated to a small zip' },
    { case: 'nested-archive', path: at('nested'), uploadName: 'nested.zip', note: 'a zip in a zip, 64 levels deep' },
    { case: 'truncated', path: at('truncated'), uploadName: 'truncated', note: 'the first half of a valid sample' },
    { case: 'loop', path: at('loop'), uploadName: 'storm.bin', note: 'magic numbers back to back, to keep scanners and parsers busy' },
  ];
}

function* zeros(total: number): Iterable<Buffer> {
  const chunk = Buffer.alloc(MiB);
  for (let left = total; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}

/** A file of exactly `size` bytes of a repeating, incompressible-looking pattern. */
async function writeExactSize(path: string, size: number): Promise<void> {
  const block = Buffer.alloc(MiB);
  for (let i = 0, x = 2463534242; i < block.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    block[i] = x & 0xff;
  }
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= block.length) {
    if (!out.write(left >= block.length ? block : block.subarray(0, left))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  if ((await stat(path)).size !== size) throw new Error(`could not write ${size} bytes to ${path}`);
}

/** A zip holding a zip holding … `depth` levels, with a text file at the bottom. */
async function writeNested(dir: string, path: string, depth: number): Promise<void> {
  let inner = Buffer.from('the bottom of a deeply nested archive\n');
  let name = 'bottom.txt';
  const tmp = join(dir, 'nesting.zip');
  for (let level = 0; level < depth; level++) {
    const content = inner;
    await writeZip(tmp, [{ name, chunks: () => [content] }]);
    inner = await readFile(tmp);
    name = `level-${depth - level}.zip`;
  }
  await rename(tmp, path);
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

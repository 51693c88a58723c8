import busboy from 'busboy';
import { createHash } from 'node:crypto';
import type { RawRequest } from './raw-socket.js';

/** A small seeded PRNG (mulberry32): the same seed gives the same cases. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(max: number): number {
    return Math.floor(this.next() * max);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** One multipart part: raw header lines and content. */
export interface Part {
  headers: string[];
  content: Buffer;
}

/** Serializes parts with a boundary, CRLF framing, optionally without the closing boundary. */
export function multipart(boundary: string, parts: Part[], close = true): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(Buffer.from(`--${boundary}\r\n${p.headers.map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1'), p.content, Buffer.from('\r\n'));
  }
  if (close) out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}

/** A file part in field `name`. */
export function filePart(name: string, content: Buffer, filename = 'sample.bin'): Part {
  return { headers: [`Content-Disposition: form-data; name="${name}"; filename="${filename}"`, 'Content-Type: application/octet-stream'], content };
}

/** A generated case: what is sent, how it was made, and (if any) the one file it validly carries. */
export interface FuzzCase {
  label: string;
  request: RawRequest;
  /** The request head and the body bytes the server gets, for the reference parse. */
  contentType: string | undefined;
  body: Buffer;
  /** The HTTP framing is complete and correct (Content-Length or chunks match what is sent). */
  framed: boolean;
  /** An aborted request that still sent every byte: the server may have taken it before the close. */
  mayLand: boolean;
}

const MUTATIONS = [
  'none', 'truncate', 'truncate-early-close', 'abort', 'wrong-boundary', 'no-boundary', 'bad-type', 'no-type',
  'nested', 'duplicate', 'empty-parts', 'huge-header', 'many-headers', 'bad-encoding', 'flip', 'junk', 'delete',
  'chunked', 'bad-chunked', 'trickle', 'fields-only', 'other-field', 'lf-only', 'length-short', 'length-long',
  'huge-request-header', 'bad-request-header',
] as const;
type Mutation = (typeof MUTATIONS)[number];

/** Builds the next case from the generator: a valid form, then one mutation (or none). */
export function makeCase(rng: Rng, path: string, limit: number): FuzzCase {
  const boundary = `----fuzz${rng.bytes(6).toString('hex')}`;
  const size = rng.chance(0.1) ? limit - 2 + rng.int(5) : rng.int(2000);
  // Sometimes content full of near-boundaries, to catch a parser that matches too early.
  const content = rng.chance(0.2) ? Buffer.from(`x\r\n--${boundary.slice(0, rng.int(boundary.length))}y`.repeat(1 + rng.int(3))) : rng.bytes(size);
  const parts: Part[] = [filePart('upload', content)];
  if (rng.chance(0.3)) parts.unshift({ headers: ['Content-Disposition: form-data; name="note"'], content: Buffer.from('hello') });
  const mutation = rng.pick(MUTATIONS);
  const close = mutation === 'truncate' || mutation === 'truncate-early-close' ? rng.chance(0.5) : true;
  const body = mutateBytes(rng, mutation, multipart(boundary, mutateParts(rng, mutation, parts), close));
  return frame(rng, path, contentTypeFor(rng, mutation, boundary), body, mutation, `${mutation} (${body.length} bytes)`);
}

/** Mutations of the form's structure: parts added, replaced or given odd headers. */
function mutateParts(rng: Rng, mutation: Mutation, parts: Part[]): Part[] {
  const last = parts[parts.length - 1] as Part;
  switch (mutation) {
    case 'nested': {
      const inner = `inner${rng.int(1e6)}`;
      return [{ headers: ['Content-Disposition: form-data; name="upload"', `Content-Type: multipart/mixed; boundary=${inner}`],
        content: multipart(inner, [filePart('upload', rng.bytes(50)), filePart('upload', rng.bytes(50))]) }];
    }
    case 'duplicate': return [...parts, ...Array.from({ length: 1 + rng.int(3) }, () => filePart('upload', rng.bytes(rng.int(300))))];
    case 'empty-parts': {
      const empty = Array.from({ length: 1 + rng.int(4) }, () => ({ headers: rng.chance(0.5) ? [] : ['Content-Disposition: form-data'], content: Buffer.alloc(0) }));
      const at = rng.int(parts.length + 1);
      return [...parts.slice(0, at), ...empty, ...parts.slice(at)];
    }
    case 'huge-header': last.headers.push(`X-Big: ${'a'.repeat(10_000 + rng.int(60_000))}`); return parts;
    case 'many-headers': last.headers.push(...Array.from({ length: 50 + rng.int(3000) }, (_, k) => `X-H${k}: v`)); return parts;
    case 'bad-encoding': return [...parts.slice(0, -1), { headers: [rng.pick(BAD_PART_HEADERS)], content: rng.bytes(rng.int(100)) }];
    case 'fields-only': return [{ headers: ['Content-Disposition: form-data; name="upload"'], content: Buffer.from('not a file') }];
    case 'other-field': return [filePart('file', last.content)];
    default: return parts;
  }
}

const BAD_PART_HEADERS = [
  'Content-Disposition: form-data; name="upload"; filename="\xff\xfe\x00\x80.bin"',
  "Content-Disposition: form-data; name=\"upload\"; filename*=UTF-8''%ZZ%ff%C3",
  "Content-Disposition: form-data; name=\"upload\"; filename*=x-unknown''abc",
  'Content-Disposition: form-data; name="upload"; filename="a\rb"',
  'Content-Disposition: form-data; name="upl\x00oad"; filename="x"',
  'Content-Disposition: form-data; name=upload; filename="unterminated',
  'Content-Type: text/plain; charset=\xff\xff',
];

/** The request's Content-Type: right, wrong, without boundary, or absent. */
function contentTypeFor(rng: Rng, mutation: Mutation, boundary: string): string | undefined {
  switch (mutation) {
    case 'wrong-boundary': return `multipart/form-data; boundary=${boundary}x`;
    case 'no-boundary': return 'multipart/form-data';
    case 'bad-type': return rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/mixed; boundary=x', 'multipart/form-data; boundary=""', '\xff\xfe']);
    case 'no-type': return undefined;
    default: return `multipart/form-data; boundary=${boundary}`;
  }
}

/** Mutations of the serialized bytes: cut, line endings, flipped, inserted or deleted bytes. */
function mutateBytes(rng: Rng, mutation: Mutation, body: Buffer): Buffer {
  const at = rng.int(body.length);
  switch (mutation) {
    case 'truncate': case 'truncate-early-close': return body.subarray(0, at);
    case 'lf-only': return Buffer.from(body.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    case 'flip': {
      const out = Buffer.from(body);
      for (let k = 0; k < 1 + rng.int(8); k++) out[rng.int(out.length)] = rng.int(256);
      return out;
    }
    case 'junk': return Buffer.concat([body.subarray(0, at), rng.bytes(1 + rng.int(200)), body.subarray(at)]);
    case 'delete': return Buffer.concat([body.subarray(0, at), body.subarray(at + 1 + rng.int(100))]);
    default: return body;
  }
}

/** Wraps a body in an HTTP request: Content-Length or chunks, pieces, delays and the ending. */
function frame(rng: Rng, path: string, contentType: string | undefined, body: Buffer, mutation: Mutation, label: string): FuzzCase {
  const chunked = mutation === 'chunked' || mutation === 'bad-chunked';
  let declared = body.length;
  if (mutation === 'length-short') declared = rng.int(body.length);
  if (mutation === 'length-long' || mutation === 'truncate-early-close') declared = body.length + 1 + rng.int(1000);
  const head = `${rng.pick(['POST', 'PUT'])} ${path} HTTP/1.1\r\nHost: fuzz\r\n` +
    (contentType === undefined ? '' : `Content-Type: ${contentType}\r\n`) +
    (chunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${declared}\r\n`) +
    (mutation === 'huge-request-header' ? `X-Big: ${'b'.repeat(10_000 + rng.int(60_000))}\r\n` : '') +
    (mutation === 'bad-request-header' ? rng.pick(['X-Bad\x00: 1\r\n', 'X Space: 1\r\n', 'X-Ctl: a\x01b\r\n', ': empty\r\n', 'X-Fold: a\r\n folded\r\n']) : '') + '\r\n';
  const wire = chunked ? chunk(rng, body, mutation === 'bad-chunked') : body;
  const sent = mutation === 'length-short' ? body.subarray(0, declared) : body;
  const pieces = split(rng, Buffer.concat([Buffer.from(head, 'latin1'), wire]), mutation === 'trickle');
  const ending = mutation === 'abort' ? 'abort' : mutation === 'truncate-early-close' ? 'half-close' : 'wait';
  const all = pieces.length;
  if (mutation === 'abort') pieces.splice(1 + rng.int(pieces.length));
  return {
    label, contentType, body: sent,
    framed: !['bad-chunked', 'length-long', 'truncate-early-close', 'abort'].includes(mutation),
    mayLand: mutation === 'abort' && pieces.length === all,
    request: { pieces, ending, timeoutMs: 15_000 },
  };
}

/** Chunked transfer encoding; `broken` corrupts one chunk size line. */
function chunk(rng: Rng, body: Buffer, broken: boolean): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length;) {
    const n = Math.min(body.length - at, 1 + rng.int(700));
    out.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  if (broken && out.length > 1) {
    // Each chunk is [size line, data, CRLF]: corrupt one size line, or the CRLF after the data.
    const k = 3 * rng.int((out.length - 1) / 3);
    if (rng.chance(0.5)) out[k] = Buffer.from(rng.pick(['zz\r\n', '-1\r\n', 'ffffffffffffffffff\r\n', '\r\n']));
    else out[k + 2] = Buffer.from('XY');
  }
  return Buffer.concat(out);
}

/** Splits the wire bytes into a few writes; a trickle gets many small ones with delays. */
function split(rng: Rng, wire: Buffer, trickle: boolean): { data: Buffer; delayMs?: number }[] {
  const count = trickle ? 5 + rng.int(15) : 1 + rng.int(3);
  const pieces: { data: Buffer; delayMs?: number }[] = [];
  let at = 0;
  for (let k = 0; k < count && at < wire.length; k++) {
    const end = k === count - 1 ? wire.length : Math.min(wire.length, at + 1 + rng.int(Math.max(1, Math.ceil(wire.length / count) * 2)));
    pieces.push({ data: wire.subarray(at, end), ...(trickle ? { delayMs: 5 + rng.int(40) } : {}) });
    at = end;
  }
  if (at < wire.length) pieces.push({ data: wire.subarray(at) });
  return pieces;
}

/**
 * The reference: what a correct frontend must accept. A body is valid when the framing is
 * complete and busboy, given the same limits, parses it without error into exactly one file
 * in `upload` of at most `limit` bytes. Returns that file's sha256, or undefined.
 */
export async function referenceFile(c: FuzzCase, limit: number): Promise<string | undefined> {
  if (!c.framed || c.contentType === undefined) return undefined;
  return new Promise((resolve) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': c.contentType }, defParamCharset: 'utf8',
        limits: { fileSize: limit + 1, files: 4, fields: 32, parts: 64, fieldSize: 64 * 1024, headerPairs: 32 } });
    } catch {
      resolve(undefined);
      return;
    }
    const files: { hash: string; size: number }[] = [];
    let bad = false;
    parser.on('file', (name, stream) => {
      const hash = createHash('sha256');
      let size = 0;
      stream.on('error', () => { bad = true; });
      stream.on('data', (d: Buffer) => { hash.update(d); size += d.length; });
      stream.on('end', () => { if (name === 'upload') files.push({ hash: hash.digest('hex'), size }); });
      if (name !== 'upload') stream.resume();
    });
    parser.on('error', () => resolve(undefined));
    parser.on('finish', () => setImmediate(() => {
      const [f] = files;
      resolve(!bad && files.length === 1 && f && f.size <= limit ? f.hash : undefined);
    }));
    parser.end(c.body);
  });
}

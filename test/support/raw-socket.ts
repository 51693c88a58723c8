import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a raw request ends on the client side. */
export type Ending = 'wait' | 'half-close' | 'abort';

/** One raw request: bytes written as given (delays between pieces), then the ending. */
export interface RawRequest {
  pieces: { data: Buffer; delayMs?: number }[];
  ending: Ending;
  /** Give up waiting for the server after this long. */
  timeoutMs: number;
  /** A HEAD request: its answer has no body whatever its Content-Length says. */
  head?: boolean;
}

/** What the server did: answered (parsed), closed without a byte, or neither in time. */
export type RawOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: Buffer }
  | { kind: 'closed'; bytes: number }
  | { kind: 'garbage'; raw: string }
  | { kind: 'timeout' }
  | { kind: 'aborted' };

/** Sends a request over a plain socket, so malformed framing reaches the server as written. */
export async function rawRequest(port: number, req: RawRequest): Promise<RawOutcome> {
  const socket = connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  let closed = false;
  socket.on('data', (d: Buffer) => received.push(d));
  socket.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => socket.once('close', () => {
    closed = true;
    resolve();
  }));
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  for (const piece of req.pieces) {
    if (closed) break;
    if (piece.delayMs) await sleep(piece.delayMs);
    socket.write(piece.data);
  }
  if (req.ending === 'abort') {
    socket.destroy();
    return { kind: 'aborted' };
  }
  if (req.ending === 'half-close') socket.end();
  const until = Date.now() + req.timeoutMs;
  while (!closed && Date.now() < until) {
    const parsed = parseResponse(Buffer.concat(received), req.head);
    if (parsed) {
      socket.destroy();
      return parsed;
    }
    await Promise.race([ended, sleep(10)]);
  }
  socket.destroy();
  const all = Buffer.concat(received);
  const parsed = parseResponse(all, req.head, closed);
  if (parsed) return parsed;
  if (!closed) return { kind: 'timeout' };
  return all.length === 0 ? { kind: 'closed', bytes: 0 } : { kind: 'garbage', raw: all.toString('latin1').slice(0, 300) };
}

/**
 * A complete HTTP/1.1 response (a Content-Length or chunked body, or one up to the close; none
 * for HEAD), or undefined while incomplete. Interim 1xx answers (100 Continue) are skipped.
 */
function parseResponse(buf: Buffer, head = false, closed = false): RawOutcome | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '');
  if (!m) return { kind: 'garbage', raw: buf.toString('latin1').slice(0, 300) };
  const status = Number(m[1]);
  if (status >= 100 && status < 200 && status !== 101) {
    // Only an interim answer before the close: the server closed without answering.
    if (closed && buf.length === end + 4) return { kind: 'closed', bytes: buf.length };
    return parseResponse(buf.subarray(end + 4), head, closed);
  }
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  if (head) return { kind: 'response', status, headers, body: Buffer.alloc(0) };
  const rest = buf.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const body = dechunk(rest);
    return body && { kind: 'response', status, headers, body };
  }
  // Neither length nor chunks (an answer to HTTP/1.0): the body ends when the connection does.
  if (headers['content-length'] === undefined) return closed ? { kind: 'response', status, headers, body: rest } : undefined;
  const length = Number(headers['content-length']);
  if (rest.length < length) return undefined;
  return { kind: 'response', status, headers, body: rest.subarray(0, length) };
}

/** A whole chunked body, decoded, or undefined while its last chunk has not come. */
function dechunk(buf: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return Buffer.concat(parts);
    if (!Number.isSafeInteger(size) || buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

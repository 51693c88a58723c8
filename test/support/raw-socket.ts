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
    const parsed = parseResponse(Buffer.concat(received));
    if (parsed) {
      socket.destroy();
      return parsed;
    }
    await Promise.race([ended, sleep(10)]);
  }
  socket.destroy();
  const all = Buffer.concat(received);
  const parsed = parseResponse(all);
  if (parsed) return parsed;
  if (!closed) return { kind: 'timeout' };
  return all.length === 0 ? { kind: 'closed', bytes: 0 } : { kind: 'garbage', raw: all.toString('latin1').slice(0, 300) };
}

/** A complete HTTP/1.1 response with a Content-Length body, or undefined while incomplete. */
function parseResponse(buf: Buffer): RawOutcome | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '');
  if (!m) return { kind: 'garbage', raw: buf.toString('latin1').slice(0, 300) };
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + length) return undefined;
  return { kind: 'response', status: Number(m[1]), headers, body: buf.subarray(end + 4, end + 4 + length) };
}

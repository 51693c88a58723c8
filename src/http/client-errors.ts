import { STATUS_CODES, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../errors.js';

/** What a request the HTTP parser refused gets, by the parser's error code. */
const ANSWERS: Readonly<Record<string, [number, ErrorCode, string]>> = {
  HPE_INVALID_METHOD: [501, 'NOT_IMPLEMENTED', 'the request method is not implemented'],
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request headers are too large'],
  HPE_HEADER_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request headers came too slowly'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request came too slowly'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'BODY_TOO_LARGE', 'the chunk extensions are too large'],
};

/** The response a connection is still working on, as Node keeps it on the socket. */
interface InFlight {
  headersSent?: boolean;
  shouldKeepAlive?: boolean;
  req?: { complete?: boolean };
}

/**
 * Answers requests that Node's HTTP parser refuses before any app sees them (a method it does
 * not know such as BREW, oversized headers, malformed requests) with the same JSON error shape
 * as the apps, instead of Node's bare 400, then closes the connection.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const pending = (socket as Duplex & { _httpMessage?: InFlight })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) {
      socket.destroy();
      return;
    }
    if (pending?.req?.complete) {
      // The request in flight was read whole: what broke is what came after it (bytes behind
      // a short Content-Length). Its own answer goes out, then the connection closes.
      pending.shouldKeepAlive = false;
      return;
    }
    const [status, code, message] = ANSWERS[err.code ?? ''] ?? [400, 'BAD_REQUEST', 'the request is malformed'];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
      + `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
    // A peer that never reads the answer does not keep the socket.
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

/**
 * Server options under which Node leaves the Host check to `requireHost` (Node's own refusal of
 * an HTTP/1.1 request without Host is a bare 400 that no app sees).
 */
export const HOST_CHECKED_BY_APP: Pick<ServerOptions, 'requireHostHeader'> = { requireHostHeader: false };

/** Refuses an HTTP/1.1 request without a Host header as Node would (400, connection closed), in the JSON error shape. */
export function requireHost(handler: RequestListener): RequestListener {
  return (req, res) => {
    if (req.httpVersion !== '1.1' || req.headers.host !== undefined) return handler(req, res);
    const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'an HTTP/1.1 request needs a Host header' } });
    res.shouldKeepAlive = false;
    res.writeHead(400, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff' });
    res.end(req.method === 'HEAD' ? undefined : body);
    req.resume();
  };
}

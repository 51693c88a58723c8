import type { Socket } from 'node:net';

/** Node's HTTP parser errors that have a more precise status than 400. */
const STATUS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'REQUEST_TIMEOUT'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'BODY_TOO_LARGE'],
};

/**
 * The server's `'clientError'` listener: a request Node's HTTP parser refuses (malformed
 * framing, bad chunked encoding, oversized headers, header timeout) gets the API's JSON error
 * shape instead of Node's bare text, when nothing of a response was sent yet; then the
 * connection closes. A client that is already gone is let go silently.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, text, code] = STATUS[err.code ?? ''] ?? [400, 'Bad Request', 'BAD_REQUEST'];
  const body = JSON.stringify({ error: { code, message: 'the request is not valid HTTP' } });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
  // A peer that never reads the answer does not keep the socket.
  setTimeout(() => socket.destroy(), 5000).unref();
}

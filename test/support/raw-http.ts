import { createServer, request, type RequestListener } from 'node:http';
import { connect, type AddressInfo } from 'node:net';

/** An answer read whole: status, headers, text and the JSON if the text is JSON. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/**
 * Sends a request with the path exactly as given (fetch would normalise `/x/../y` and keep
 * nothing of what a hostile client sends); reads the answer whole.
 */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Serves a request listener (an app's callback) on a loopback port until `close`. */
export async function serve(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * Every spelling of the internal job route we know a router or a path check may read
 * differently: case, percent-encoding, dot segments, doubled slashes, trailing slash,
 * `;` parameters, the absolute form a proxy would send. `id` is a job that exists.
 */
export function internalSpellings(id: string): string[] {
  return [
    `/internal/jobs/${id}`, `/internal/jobs/${id}/input`, `/INTERNAL/jobs/${id}`, `/Internal/jobs/${id}/input`, `/internal/JOBS/${id}`,
    `/%69nternal/jobs/${id}`, `/%49NTERNAL/jobs/${id}`, `/internal%2fjobs%2f${id}`, `/internal/jobs/%3${id.slice(0, 1)}${id.slice(1)}`,
    `/x/../internal/jobs/${id}`, `/./internal/jobs/${id}`, `/internal/./jobs/${id}/input`, `/%2e%2e/internal/jobs/${id}`,
    `//internal/jobs/${id}`, `/internal//jobs/${id}`, `/internal/jobs//${id}/input`, `/internal/jobs/${id}/`, `/internal/`,
    `/internal`, `/internal;x=1/jobs/${id}`, `/internal/jobs/${id};x`, `/internal/jobs/${id}/input;.txt`, `/internal/jobs/${id}?x=1`,
    `/internal/nosuch`, `/internal/healthz`, `/internal/jobs/${id}%2finput`,
    `http://127.0.0.1/internal/jobs/${id}`, `*`,
  ];
}

/** Writes raw bytes to `base` (an http://host:port URL) and reads until the server closes. */
export function rawBytes(base: string, bytes: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.setTimeout(5000, () => socket.destroy(new Error('no close in 5 s')));
    socket.write(bytes);
  });
}

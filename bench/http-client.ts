import { Agent, createServer, request, type Server } from 'node:http';

/** A keep-alive GET client for the open-loop reads: resolves true on a 200 with its body read. */
export function getter(base: string, headers: Record<string, string>): { get: (path: string) => Promise<boolean>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const url = new URL(base);
  const get = (path: string): Promise<boolean> => new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path, headers, agent }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode === 200));
      res.once('error', () => resolve(false));
    });
    req.once('error', () => resolve(false));
    req.end();
  });
  return { get, close: () => agent.destroy() };
}

/**
 * The floor for the read and burst benchmarks: a bare node:http server on loopback that reads
 * each request's body and answers a fixed small JSON, no routing, database or disk.
 */
export async function bareServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const body = JSON.stringify({ status: 'Success', summary: '9e107d9d372bb6826bd81d3542a419d6', link: '/link/1' });
  const server: Server = createServer((req, res) => {
    req.resume();
    req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'POST' ? '{"jobid":"1"}' : body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

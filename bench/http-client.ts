import { Agent, createServer, request, type Server } from 'node:http';

/** A keep-alive GET client for the open-loop reads: resolves true on a 200 with its body read. */
export function getter(base: string, headers: Record<string, string>): { get: (path: string) => Promise<boolean>; close: () => void; failures: Map<string, number> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const url = new URL(base);
  const failures = new Map<string, number>();
  const failed = (why: string): false => {
    failures.set(why, (failures.get(why) ?? 0) + 1);
    return false;
  };
  const get = (path: string): Promise<boolean> => new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve(res.statusCode === 200
        || failed(`${res.statusCode} ${/"code":"([A-Z_]+)"/.exec(Buffer.concat(chunks).toString())?.[1] ?? ''}`.trim())));
      res.once('error', (err: NodeJS.ErrnoException) => resolve(failed(err.code ?? err.message)));
    });
    req.once('error', (err: NodeJS.ErrnoException) => resolve(failed(err.code ?? err.message)));
    req.end();
  });
  return { get, close: () => agent.destroy(), failures };
}

/**
 * A lean multipart upload client (one prebuilt body per call, keep-alive, no FormData): at a
 * concurrency of 32 on two cores, fetch's FormData costs more CPU than the server under test.
 * Resolves to the job id; throws on any answer but 200.
 */
export function poster(base: string, headers: Record<string, string>): { post: (path: string, body: Buffer) => Promise<string>; close: () => void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const url = new URL(base);
  const boundary = 'menageriebench7d1f0c';
  const post = (path: string, file: Buffer): Promise<string> => new Promise((resolve, reject) => {
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="sample.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    const req = request({ host: url.hostname, port: url.port, path, method: 'POST', agent,
      headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString();
        const id = res.statusCode === 200 ? (JSON.parse(text) as { jobid?: string }).jobid : undefined;
        if (id) resolve(id);
        else reject(new Error(`upload refused: ${res.statusCode} ${text}`));
      });
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end(body);
  });
  return { post, close: () => agent.destroy() };
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

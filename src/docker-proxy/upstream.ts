import { request, type ClientRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

/**
 * Opens one request to the Docker socket on a connection of its own. Nothing is pooled or
 * cached: after the daemon restarts (a new socket file in the mounted directory) the next
 * request simply reaches the new daemon.
 */
export function openUpstream(socketPath: string, method: string, path: string, headers: OutgoingHttpHeaders = {}): ClientRequest {
  return request({ socketPath, method, path, headers, agent: false });
}

/** A small buffered answer from the daemon. */
export interface UpstreamReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** GETs a small JSON document from the daemon (inspect calls); bounded in size and time. */
export function getFromDocker(socketPath: string, path: string, timeoutMs = 10_000, maxBytes = 8 * 1024 * 1024): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    const req = openUpstream(socketPath, 'GET', path);
    const timer = setTimeout(() => req.destroy(new Error(`the Docker daemon did not answer GET ${path} within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('error', (err) => req.destroy(err));
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) req.destroy(new Error(`the Docker daemon's answer to GET ${path} is larger than ${maxBytes} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.end();
  });
}

/** Parses a JSON answer; undefined when it is not JSON. */
export function jsonOf(reply: UpstreamReply): unknown {
  try {
    return JSON.parse(reply.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

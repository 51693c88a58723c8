import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { checkReadiness, type Check } from '../metrics/readiness.js';
import { answerClientErrors, HOST_CHECKED_BY_APP, requireHost } from './client-errors.js';

/** What an operations listener serves. */
export interface OpsDeps {
  /** Served at /metrics; none: /metrics is 404. */
  registry?: Registry;
  /** The checks of /readyz. */
  checks: Readonly<Record<string, Check>>;
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  token?: string;
}

/**
 * The operations listener of a process without a public API (menage; the docker-proxy has
 * none): GET/HEAD /metrics, /healthz and /readyz, exact paths only; everything else is a JSON
 * 404 or 405. Health needs no token and names no driver message.
 */
function opsHandler(d: OpsDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    answer(d, req, res).catch(() => send(res, 500, { error: { code: 'INTERNAL_ERROR', message: 'internal error' } }));
  };
}

async function answer(d: OpsDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '';
  if (!['/metrics', '/healthz', '/readyz'].includes(path) || (path === '/metrics' && !d.registry)) {
    send(res, 404, { error: { code: 'NOT_FOUND', message: 'no such path; try /metrics, /healthz or /readyz' } });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method ?? ''} is not allowed here; allowed: GET, HEAD` } });
    return;
  }
  if (path === '/healthz') return send(res, 200, { status: 'ok' });
  if (path === '/readyz') {
    const r = await checkReadiness(d.checks);
    return send(res, r.status === 'ready' ? 200 : 503, r);
  }
  if (d.token !== undefined && !sameToken(req.headers.authorization, d.token)) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="menagerie"');
    return send(res, 401, { error: { code: 'UNAUTHORIZED', message: 'a valid bearer token is needed' } });
  }
  const registry = d.registry as Registry;
  const text = await registry.metrics();
  res.writeHead(200, { 'Content-Type': registry.contentType, 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

function sameToken(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', ...(status === 503 ? { 'Retry-After': '5' } : {}) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

/** Starts an operations listener; resolves with it and its URL once it listens. */
export async function listenOps(d: OpsDeps, host: string, port: number): Promise<{ server: Server; url: string; close: () => Promise<void> }> {
  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, ...HOST_CHECKED_BY_APP }, requireHost(opsHandler(d)));
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${bound}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  return { server, url, close };
}

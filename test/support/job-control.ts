import Docker from 'dockerode';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createToken } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { LABELS } from '../../src/contract/labels.js';
import { databaseOptions } from '../../src/frontend.js';
import { verify, WEBHOOK_HEADERS } from '../../src/webhooks/signature.js';
import { bearer, type Stack } from './stack.js';

/** The auth settings job-control suites run with (tokens, as production). */
export const TOKEN_KEY = 'k'.repeat(40);
export const WEBHOOK_SECRET = 'w'.repeat(40);

/** Tokens of two owners and the other roles, created in a stack's database. */
export async function makeTokens(stack: Stack): Promise<{ alice: string; bob: string; reader: string; admin: string }> {
  const store = new TokenStore(databaseOptions(stack.env.config));
  try {
    const make = async (name: string, role: string, owner?: string): Promise<string> =>
      (await createToken(store, TOKEN_KEY, { name, role, ...(owner ? { owner } : {}) })).token;
    return { alice: await make('alice', 'submit'), bob: await make('bob', 'submit'), reader: await make('reader', 'read'), admin: await make('root', 'admin') };
  } finally {
    await store.close();
  }
}

/** A JSON call to the API with a token; status and parsed body. */
export async function call(url: string, method: string, path: string, token?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, { method, headers: bearer(token) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** A multipart upload to any path (submissions), with extra headers. */
export async function post(url: string, path: string, body: Buffer | string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const form = new FormData();
  form.append('upload', new Blob([typeof body === 'string' ? body : new Uint8Array(body)]), 'sample.bin');
  const res = await fetch(`${url}${path}`, { method: 'POST', body: form, headers: { ...bearer(token), ...headers } });
  return { status: res.status, json: await res.json() };
}

/** Polls the API v1-style record (GET /jobs/<id>) until `ok` holds. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Container create events for a stack's node between `since` and now (seconds). */
export async function createdContainers(docker: Docker, node: string, since: number): Promise<string[]> {
  const stream = await docker.getEvents({
    since, until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['create'], label: [`${LABELS.node}=${node}`] },
  });
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id);
}

/** A delivery a receiver got, with whether its signature checked out. */
export interface Received { path: string; body: any; signed: boolean; delivery: string | undefined }

/**
 * A webhook receiver on 127.0.0.1 that checks every signature. `failFirst` answers 500 to that
 * many requests per path before accepting.
 */
export async function startReceiver(failFirst: Record<string, number> = {}): Promise<{ url: string; got: Received[]; hits: Map<string, number>; close: () => Promise<void> }> {
  const got: Received[] = [];
  const hits = new Map<string, number>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '';
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      if (n <= (failFirst[path] ?? 0)) {
        res.writeHead(500).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      const signed = verify(WEBHOOK_SECRET, req.headers[WEBHOOK_HEADERS.signature] as string | undefined,
        req.headers[WEBHOOK_HEADERS.timestamp] as string | undefined, raw);
      got.push({ path, body: JSON.parse(raw.toString('utf8')), signed, delivery: req.headers[WEBHOOK_HEADERS.delivery] as string | undefined });
      res.writeHead(signed ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`, got, hits,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

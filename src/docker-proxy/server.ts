import { createServer, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { judgeContainerCreate, judgeVolumeCreate } from './create-body.js';
import { deny, judgeRequest, type Admission, type Refusal } from './judge.js';
import { Ownership } from './ownership.js';
import type { ProxyPolicy } from './policy.js';
import { formatTarget } from './request-target.js';
import { AmbiguousJson, parseStrictJson } from '../enforcer/docker-json.js';
import { LABELS } from '../contract/labels.js';
import { openUpstream } from './upstream.js';
import type { Logger } from '../log/logger.js';

/** What the proxy server needs. */
export interface ProxyServerOptions {
  /** Read for every request: replacing it (SIGHUP, engines.json re-read) applies to the next request. */
  policy: ProxyPolicy;
  /** The Docker daemon's socket, opened anew for every request. */
  readonly socketPath: string;
  /** The X-Registry-Auth value added to image pulls (the client's own is never forwarded). */
  readonly registryAuth?: string;
  readonly log: Logger;
}

/** The error code of every refusal (the body also has Docker's own `message` field, which Docker clients show). */
export const REFUSED = 'DOCKER_API_REFUSED';
const UNAVAILABLE = 'DOCKER_UNAVAILABLE';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate', 'proxy-authorization']);

/** The filtering proxy: an HTTP server that forwards what menage may do to the Docker socket. */
export function createProxyServer(o: ProxyServerOptions): Server {
  const owners = new Ownership(o.socketPath, o.policy.deployment);
  const server = createServer((req, res) => {
    res.on('error', () => undefined);
    handle(o, owners, req, res).catch((err: Error) => {
      o.log.error({ err, method: req.method, url: short(req.url) }, `docker-proxy: ${req.method} ${short(req.url)} failed: ${err.message}`);
      if (!res.headersSent) reply(res, 502, UNAVAILABLE, 'the Docker daemon could not be reached');
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => undefined);
    upgrade(o, owners, req, socket, head).catch((err: Error) => {
      o.log.error({ err, url: short(req.url) }, `docker-proxy: upgrade ${short(req.url)} failed: ${err.message}`);
      rawReply(socket, 502, UNAVAILABLE, 'the Docker daemon could not be reached');
    });
  });
  return server;
}

async function handle(o: ProxyServerOptions, owners: Ownership, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.on('error', () => undefined);
  const decision = judgeRequest(req.method ?? '', req.url ?? '', false, o.policy);
  if (!decision.allow) return refuse(o, req, res, decision);
  const resolved = await resolve(owners, decision, o.policy);
  if ('allow' in resolved) return refuse(o, req, res, resolved);
  if ('reply' in resolved) {
    req.resume();
    res.writeHead(resolved.reply.status, { 'content-type': 'application/json' });
    return void res.end(resolved.reply.body);
  }
  const { route } = decision;
  let body: Buffer | undefined;
  if (route.body === 'container-create' || route.body === 'volume-create') {
    const judged = await judgeBody(o, owners, req, route.body);
    if ('allow' in judged) return refuse(o, req, res, judged);
    body = judged.body;
  }
  const path = formatTarget(decision.version, decision.match.segments(resolved.id), decision.query);
  const auth = route.name === 'image-pull' && o.registryAuth ? { 'x-registry-auth': o.registryAuth } : {};
  if (decision.image !== undefined) o.log.info({ image: decision.image }, `docker-proxy: pulling ${decision.image}`);
  await forward(o, req, res, path, route.body === 'tar' && req.method === 'PUT', body, auth);
  if (route.name === 'container-remove' && res.statusCode < 300) owners.forget(resolved.id);
}

/** Sends the judged request to Docker on a fresh connection and streams the answer back. */
function forward(o: ProxyServerOptions, req: IncomingMessage, res: ServerResponse, path: string, streamIn: boolean, body: Buffer | undefined, extra: OutgoingHttpHeaders = {}): Promise<void> {
  const headers: OutgoingHttpHeaders = { ...extra };
  if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': body.length });
  if (streamIn) {
    headers['content-type'] = 'application/x-tar';
    if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
  } else if (!body) req.resume(); // a body Docker would ignore is never forwarded
  const up = openUpstream(o.socketPath, req.method ?? 'GET', path, headers);
  res.on('close', () => up.destroy());
  return new Promise<void>((done, fail) => {
    up.on('error', fail);
    up.on('response', (upRes) => {
      upRes.on('error', () => res.destroy());
      res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers));
      // Streams (attach, wait, events) answer their headers long before their first byte.
      res.flushHeaders();
      upRes.pipe(res);
      res.on('close', () => done());
    });
    if (streamIn) req.pipe(up);
    else up.end(body);
  });
}

/** The resource's full id, a ready answer (an image inspect), or a refusal. */
async function resolve(owners: Ownership, d: Admission, policy: ProxyPolicy): Promise<{ id: string } | { id: string; reply: { status: number; body: Buffer } } | Refusal> {
  for (const id of d.containers) {
    if ((await owners.container(id)).kind !== 'ours') return deny(`events of container ${id} are not this deployment's to watch`);
  }
  const { resource } = d.route;
  if (resource === 'none') return { id: '' };
  const owner = resource === 'container' ? await owners.container(d.match.ref)
    : resource === 'volume' ? await owners.volume(d.match.ref) : await owners.image(d.match.ref, policy.images);
  if (owner.kind === 'missing') return { id: '', reply: owner.reply };
  if (owner.kind === 'foreign') return deny(`${resource} ${d.match.ref} is not this deployment's`);
  return resource === 'image' && owner.reply ? { id: owner.id, reply: owner.reply } : { id: owner.id };
}

/** Reads, parses and judges a JSON body; the body to forward is the judged value, re-serialised. */
async function judgeBody(o: ProxyServerOptions, owners: Ownership, req: IncomingMessage, kind: 'container-create' | 'volume-create'): Promise<{ body: Buffer } | Refusal> {
  const raw = await readLimited(req, o.policy.maxJsonBytes);
  if (!raw) return deny(`the body is larger than ${o.policy.maxJsonBytes} bytes`, 413);
  let value: unknown;
  try {
    value = parseStrictJson(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (err) {
    if (err instanceof AmbiguousJson) return deny(`ambiguous body: ${err.message}`);
    return deny(`the body is not valid JSON: ${(err as Error).message}`, 400);
  }
  if (kind === 'volume-create') {
    const problems = judgeVolumeCreate(value, o.policy);
    return problems.length ? deny(`volume create: ${problems.join('; ')}`) : { body: Buffer.from(JSON.stringify(value)) };
  }
  const { problems, volumes, dataVolumes } = judgeContainerCreate(value, o.policy);
  if (problems.length) return deny(`container create: ${problems.join('; ')}`);
  for (const name of volumes) {
    if ((await owners.volume(name)).kind !== 'ours') return deny(`container create: volume ${JSON.stringify(name)} is not this deployment's`);
  }
  for (const name of dataVolumes) {
    const kind = (await owners.engineData(name)).kind;
    // Docker would create a missing named volume, empty and unlabelled: refuse instead.
    if (kind === 'missing') return deny(`container create: the read-only volume ${JSON.stringify(name)} does not exist (docs/engines.md: create it with the label ${LABELS.engineData}=${o.policy.deployment})`);
    if (kind !== 'ours') return deny(`container create: volume ${JSON.stringify(name)} is not a plain local volume labelled ${LABELS.engineData}=${o.policy.deployment}`);
  }
  return { body: Buffer.from(JSON.stringify(value)) };
}

/** attach with `Upgrade: tcp`: the hijacked connection is relayed once the container is known to be ours. */
async function upgrade(o: ProxyServerOptions, owners: Ownership, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  void head; // stdin is never attached: nothing the client sends after the request goes to Docker
  socket.on('data', () => undefined);
  const decision = judgeRequest(req.method ?? '', req.url ?? '', true, o.policy);
  const resolved = decision.allow ? await resolve(owners, decision, o.policy) : decision;
  if ('allow' in resolved || !decision.allow) {
    const r = 'allow' in resolved ? resolved : (decision as Refusal);
    o.log.warn({ method: req.method, url: short(req.url), why: r.message }, `docker-proxy: refused ${req.method} ${short(req.url)}: ${r.message}`);
    return rawReply(socket, r.status, REFUSED, r.message);
  }
  if ('reply' in resolved) return rawReply(socket, 404, 'NOT_FOUND', `No such container: ${decision.match.ref}`);
  const path = formatTarget(decision.version, decision.match.segments(resolved.id), decision.query);
  const up = openUpstream(o.socketPath, 'POST', path, { connection: 'Upgrade', upgrade: 'tcp' });
  socket.on('close', () => up.destroy());
  up.on('error', () => rawReply(socket, 502, UNAVAILABLE, 'the Docker daemon could not be reached'));
  up.on('upgrade', (_res, upSocket, upHead) => {
    upSocket.on('error', () => socket.destroy());
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    if (upHead.length) socket.write(upHead);
    upSocket.pipe(socket);
    socket.on('close', () => upSocket.destroy());
  });
  up.on('response', (upRes) => {
    upRes.on('error', () => socket.destroy());
    const lines = Object.entries(endToEnd(upRes.headers)).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('');
    socket.write(`HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}\r\n${lines}Connection: close\r\n\r\n`);
    upRes.pipe(socket);
  });
  up.end();
}

function refuse(o: ProxyServerOptions, req: IncomingMessage, res: ServerResponse, r: Refusal): void {
  req.resume();
  o.log.warn({ method: req.method, url: short(req.url), why: r.message }, `docker-proxy: refused ${req.method} ${short(req.url)}: ${r.message}`);
  reply(res, r.status, r.status === 404 ? 'NOT_FOUND' : REFUSED, r.message);
}

function reply(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ message, error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function rawReply(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed || !socket.writable) return;
  const body = JSON.stringify({ message, error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function endToEnd(headers: IncomingMessage['headers']): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k)));
}

/** Reads a body up to `max` bytes; undefined when it is larger (the rest is drained, not kept). */
function readLimited(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) chunks.push(chunk);
      else resolve(undefined);
    });
    req.on('end', () => resolve(size <= max ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

function short(url: string | undefined): string {
  const u = url ?? '';
  return u.length > 160 ? `${u.slice(0, 160)}...` : u;
}

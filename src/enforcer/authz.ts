import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import Koa from 'koa';
import { modelFromInspect } from './container-model.js';
import { canonicalKeys, parseStrictJson } from './docker-json.js';
import type { CreateVerdict, Judge } from './judge.js';
import type { Log } from './log.js';
import type { EnforcerMetrics } from './prometheus.js';

/** What the AuthZ plugin endpoint needs. */
export interface AuthzDeps {
  readonly judge: Judge;
  readonly docker: Docker;
  readonly metrics: EnforcerMetrics;
  readonly log: Log;
  readonly denyPrivilegedExec: boolean;
}

/** The request Docker sends to an AuthZ plugin (only the fields used here). */
interface AuthzRequest {
  RequestMethod?: string;
  /** Docker spells it RequestUri on the wire. */
  RequestUri?: string;
  RequestBody?: string | null;
}

const MAX_BODY = 16 * 1024 * 1024;
const ALLOW: CreateVerdict = { allow: true, message: '' };

/**
 * A Koa app speaking Docker's AuthZ plugin protocol: every mutating container endpoint
 * (create, update, exec) is judged by the rules; everything else is allowed.
 */
export function createAuthzApp(deps: AuthzDeps): Koa {
  const app = new Koa();
  app.use(async (ctx) => {
    if (ctx.method !== 'POST') return void (ctx.status = 405);
    const raw = await readBody(ctx.req);
    ctx.type = 'application/vnd.docker.plugins.v1.2+json';
    if (ctx.path === '/Plugin.Activate') return void (ctx.body = { Implements: ['authz'] });
    if (ctx.path === '/AuthZPlugin.AuthZRes') return void (ctx.body = { Allow: true });
    if (ctx.path !== '/AuthZPlugin.AuthZReq') return void (ctx.status = 404);
    let verdict: CreateVerdict;
    let endpoint = 'other';
    try {
      const req = JSON.parse(raw.toString('utf8')) as AuthzRequest;
      ({ verdict, endpoint } = await decide(deps, req));
    } catch (err) {
      deps.log('error', 'authz request could not be judged', { error: (err as Error).message });
      verdict = { allow: false, message: 'denied by policy: the request could not be judged' };
    }
    deps.metrics.authz.inc({ endpoint, decision: verdict.allow ? 'allow' : 'deny' });
    ctx.body = verdict.allow ? { Allow: true } : { Allow: false, Msg: verdict.message };
  });
  return app;
}

async function decide(deps: AuthzDeps, req: AuthzRequest): Promise<{ verdict: CreateVerdict; endpoint: string }> {
  if ((req.RequestMethod ?? '').toUpperCase() !== 'POST') return { verdict: ALLOW, endpoint: 'other' };
  const url = new URL(req.RequestUri ?? '/', 'http://docker');
  const path = url.pathname.replace(/^\/v[0-9.]+(?=\/)/, '').replace(/\/+$/, '');
  if (path === '/containers/create') {
    const body = parseBody(req.RequestBody);
    const name = url.searchParams.get('name') ?? '';
    const verdict = body === undefined ? deps.judge.denyUnreadable('the create body is missing or not JSON') : deps.judge.judgeCreate(body, name);
    return { verdict, endpoint: 'create' };
  }
  const m = /^\/containers\/([^/]+)\/(update|exec)$/.exec(path);
  if (!m) return { verdict: ALLOW, endpoint: 'other' };
  const [, id, op] = m as unknown as [string, string, 'update' | 'exec'];
  const body = parseBody(req.RequestBody);
  if (body === undefined) return { verdict: deps.judge.denyUnreadable(`the ${op} body is missing or not JSON`), endpoint: op };
  const info = await deps.docker.getContainer(decodeURIComponent(id)).inspect();
  return { verdict: op === 'update' ? judgeUpdate(deps, info, body) : judgeExec(deps, info, body), endpoint: op };
}

/**
 * An update is judged as the container would be after it: current settings plus the changed
 * resources. In an update body a zero, null or empty value means "unchanged".
 */
function judgeUpdate(deps: AuthzDeps, info: ContainerInspectInfo, body: Record<string, unknown>): CreateVerdict {
  const changed = Object.fromEntries(Object.entries(body).filter(([, v]) => !isUnchanged(v)));
  const merged = { ...info, HostConfig: { ...info.HostConfig, ...changed } } as ContainerInspectInfo;
  try {
    return deps.judge.judgeRequest({ ...modelFromInspect(merged), running: false }, 'authz');
  } catch (err) {
    return deps.judge.denyUnreadable((err as Error).message);
  }
}

function isUnchanged(v: unknown): boolean {
  if (v === 0 || v === null || v === undefined || v === '' || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.values(v as object).every(isUnchanged);
}

function judgeExec(deps: AuthzDeps, info: ContainerInspectInfo, body: Record<string, unknown>): CreateVerdict {
  if (body.Privileged !== true || !deps.denyPrivilegedExec) return ALLOW;
  if (deps.judge.modeFor(modelFromInspect(info)) !== 'kill') return ALLOW;
  return { allow: false, message: 'denied by policy: privileged exec is not allowed' };
}

/**
 * Reads a request body as Docker will: a body whose keys collide under Docker's case folding
 * (or hold non-ASCII letters such as "ſ", which Go folds to "s") is unreadable, hence denied;
 * keys Docker matches ignoring case are read under their canonical spelling.
 */
function parseBody(b64: string | null | undefined): Record<string, unknown> | undefined {
  if (!b64) return undefined;
  try {
    const v = canonicalKeys(parseStrictJson(Buffer.from(b64, 'base64').toString('utf8')));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('authz request too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

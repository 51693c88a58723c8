import Router from '@koa/router';
import type { Context } from 'koa';
import { MAX_PAGE_LIMIT } from '../api/monitor-api.js';
import type { Authenticator } from '../auth/authenticator.js';
import { ForbiddenError, InvalidError } from '../errors.js';
import { STATUSES, type JobStatus } from '../jobs/job.js';
import type { MonitorFilter, MonitorSource } from '../jobs/monitor-queries.js';
import { authenticate, authorize } from '../http/auth.js';
import type { PolicySource } from './policy.js';

/** What the console API needs. */
export interface MonitorDeps {
  queries: MonitorSource;
  /** The configured engines' names, in configuration order (read per request: engines reload). */
  engines: () => readonly string[];
  auth: Authenticator;
  /** The enforcer's detections, when the frontend may read its API. */
  policy: PolicySource;
}

const ENGINE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const NUMBER = /^[0-9]{1,15}$/;

/**
 * The original console's API (`/monitor/...`), compatible for existing scripts, plus the
 * throughput and policy reads the new console uses. Behind the same token authentication as
 * the other public routes: a `read` token sees every job, a `submit` token its owner's.
 */
export function monitorRoutes(deps: MonitorDeps): Router {
  const router = new Router({ prefix: '/monitor', sensitive: true, strict: false });
  router.use(authenticate(deps.auth));

  const counts = shortCache(QUEUES_CACHE_MS, (owner: string | undefined) => deps.queries.countByEngineAndStatus(owner === undefined ? {} : { owner }));
  router.get('/queues', async (ctx) => {
    const scope = authorize(ctx, 'read');
    const queues: Record<string, Record<string, number>> = {};
    for (const name of deps.engines()) queues[name] = { RECEIVED: 0, RUNNING: 0, SUCCESS: 0, FAIL: 0 };
    for (const row of await counts(scope.owner)) {
      const counts = queues[row.engine];
      if (counts) counts[row.status.toUpperCase()] = row.count;
    }
    ctx.body = { Queues: queues };
  });

  router.get('/jobs/paginate', async (ctx) => {
    const filter = { ...jobFilter(ctx), ...authorize(ctx, 'read') };
    const minId = optionalNumber(ctx, 'min-id') ?? 0;
    const { count, maxIndex } = await deps.queries.countSince(filter, minId);
    ctx.body = { count, max_index: maxIndex };
  });

  router.get('/jobs/:maxIdx/:limit/:page', async (ctx) => {
    const filter = { ...jobFilter(ctx), ...authorize(ctx, 'read') };
    const maxIdx = pathNumber(ctx, 'maxIdx', 0);
    const limit = pathNumber(ctx, 'limit', 1, MAX_PAGE_LIMIT);
    const page = pathNumber(ctx, 'page', 1);
    ctx.body = { jobs: await deps.queries.page(filter, maxIdx, limit, (page - 1) * limit) };
  });

  router.get('/throughput', async (ctx) => {
    const scope = authorize(ctx, 'read');
    const minutes = optionalNumber(ctx, 'minutes') ?? 5;
    if (minutes < 1 || minutes > 60) throw invalid('minutes must be between 1 and 60');
    ctx.body = await deps.queries.throughput(scope, minutes);
  });

  router.get('/policy', async (ctx) => {
    if (authorize(ctx, 'read').owner !== undefined) throw new ForbiddenError('a submit token may not read the enforcer\'s detections');
    ctx.body = await deps.policy.read();
  });

  return router;
}

/**
 * How long one count of the queues matrix serves every caller of the same scope: it reads the
 * whole (engine, status) index (about 0.2 s on a million jobs), and every open dashboard asks
 * every few seconds.
 */
const QUEUES_CACHE_MS = 2000;

/** Memoises `fn` per key for `ms`; a failed call is not kept. */
function shortCache<K, V>(ms: number, fn: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const kept = new Map<K, { at: number; value: Promise<V> }>();
  return (key) => {
    const now = Date.now();
    const hit = kept.get(key);
    if (hit && now - hit.at < ms) return hit.value;
    for (const [k, v] of kept) if (now - v.at >= ms) kept.delete(k);
    const value = fn(key);
    kept.set(key, { at: now, value });
    value.catch(() => kept.delete(key));
    return value;
  };
}

function invalid(message: string): InvalidError {
  return new InvalidError('INVALID_PARAMETER', message);
}

/** A query parameter given at most once; undefined when absent or empty. */
function single(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw invalid(`${name} may be given once`);
  return v === undefined || v === '' ? undefined : v;
}

/** The `eng` and `st` filters (empty means all). */
function jobFilter(ctx: Context): MonitorFilter {
  const filter: MonitorFilter = {};
  const engine = single(ctx, 'eng');
  if (engine !== undefined) {
    if (!ENGINE_NAME.test(engine)) throw invalid(`eng: ${JSON.stringify(engine.slice(0, 70))} is not an engine name`);
    filter.engine = engine;
  }
  const st = single(ctx, 'st');
  if (st !== undefined) filter.statuses = st.split(',').map(statusOf);
  return filter;
}

/** A status as the original spells it in either case (`FAIL`, `Fail`). */
function statusOf(s: string): JobStatus {
  const found = STATUSES.find((k) => k.toLowerCase() === s.trim().toLowerCase());
  if (!found) throw invalid(`st: ${JSON.stringify(s.slice(0, 40))} is not a status (${STATUSES.join(', ')})`);
  return found;
}

function optionalNumber(ctx: Context, name: string): number | undefined {
  const v = single(ctx, name);
  if (v === undefined) return undefined;
  if (!NUMBER.test(v)) throw invalid(`${name}: ${JSON.stringify(v.slice(0, 40))} is not a non-negative integer`);
  return Number(v);
}

function pathNumber(ctx: Context, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = String(ctx.params[name] ?? '');
  if (!NUMBER.test(v) || Number(v) < min || Number(v) > max) {
    throw invalid(`${name}: ${JSON.stringify(v.slice(0, 40))} must be an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
  }
  return Number(v);
}

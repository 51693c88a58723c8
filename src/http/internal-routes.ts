import Router from '@koa/router';
import { koaBody } from 'koa-body';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError, InvalidError, UnauthorizedError } from '../errors.js';
import type { JobService } from '../jobs/service.js';
import { jobId } from './public-routes.js';

/** The most engine output kept per job (menage caps it per engine, usually far lower). */
const LOG_LIMIT = 4 * 1024 * 1024;

/** Constant-time check of `Authorization: Bearer <token>`. */
export function requireToken(token: string) {
  const want = createHash('sha256').update(token).digest();
  return async function checkToken(ctx: Context, next: Next): Promise<void> {
    const m = /^Bearer (.+)$/.exec(ctx.get('authorization'));
    const got = createHash('sha256').update(m?.[1] ?? '').digest();
    if (!m || !timingSafeEqual(want, got)) throw new UnauthorizedError();
    await next();
  };
}

function text(body: Record<string, unknown>, key: string, max: number, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || (required && v.length === 0)) throw new InvalidError('INVALID_REQUEST', `"${key}" must be a string`);
  return v.slice(0, max);
}

/**
 * The internal API that workers (and the enforcer) use; every route needs the token.
 * Workers reach the frontend only through these routes. The token check sits in front of
 * the whole `/internal` prefix (see createApp), so unknown internal paths reveal nothing.
 */
export function internalRoutes(service: JobService): Router {
  const router = new Router({ prefix: '/internal' });
  const json = koaBody({
    json: true, multipart: false, urlencoded: false, text: false, jsonLimit: '2mb', jsonStrict: true,
    onError: (err) => {
      if ((err as { status?: number }).status === 413) throw new AppError('BODY_TOO_LARGE', 413, 'the JSON body is larger than 2 MiB');
      throw new InvalidError('INVALID_JSON', 'the body is not valid JSON', { cause: err });
    },
  });
  const body = (ctx: Context): Record<string, unknown> => {
    const b = (ctx.request as unknown as { body?: unknown }).body;
    if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new InvalidError('INVALID_REQUEST', 'expected a JSON object');
    return b as Record<string, unknown>;
  };
  const lease = (ctx: Context): string => {
    const l = ctx.get('x-menagerie-lease');
    if (!/^[0-9a-f]{32}$/.test(l)) throw new InvalidError('INVALID_LEASE', 'header X-Menagerie-Lease is missing or malformed');
    return l;
  };
  router.post('/jobs/:id/start', json, async (ctx) => {
    ctx.body = await service.start(jobId(ctx), text(body(ctx), 'worker', 128) as string);
  });
  router.get('/jobs/:id', async (ctx) => {
    const job = await service.get(jobId(ctx));
    ctx.body = { jobid: job.id, engine: job.engine, status: job.status, lease: job.lease, attempts: job.attempts };
  });
  router.put('/jobs/:id/log', async (ctx) => {
    await service.saveLog(jobId(ctx), lease(ctx), ctx.req, LOG_LIMIT);
    ctx.body = { saved: true };
  });
  router.get('/jobs/:id/input', async (ctx) => {
    const { stream, size } = await service.openInput(jobId(ctx));
    ctx.type = 'application/octet-stream';
    ctx.length = size;
    ctx.body = stream;
  });
  router.put('/jobs/:id/result', async (ctx) => {
    ctx.body = await service.succeed(jobId(ctx), lease(ctx), ctx.req, decodeHeader(ctx.get('x-menagerie-containment')));
  });
  router.post('/jobs/:id/fail', json, async (ctx) => {
    const b = body(ctx);
    const l = text(b, 'lease', 64, false);
    if (l !== undefined && !/^[0-9a-f]{32}$/.test(l)) throw new InvalidError('INVALID_LEASE', '"lease" is malformed');
    const containment = typeof b.containment === 'object' ? b.containment : undefined;
    ctx.body = await service.fail(jobId(ctx), l, text(b, 'reason', 255) as string, text(b, 'detail', 1024 * 1024, false), containment);
  });
  router.post('/jobs/:id/heartbeat', json, async (ctx) => {
    ctx.body = await service.heartbeat(jobId(ctx), text(body(ctx), 'lease', 64) as string);
  });
  router.post('/jobs/:id/release', json, async (ctx) => {
    const b = body(ctx);
    ctx.body = await service.release(jobId(ctx), text(b, 'lease', 64) as string, text(b, 'error', 1024) as string,
      b.infrastructure === true);
  });
  return router;
}

/** Reads base64 JSON from a header (the containment report); undefined if absent or bad. */
function decodeHeader(value: string): unknown {
  if (!value || value.length > 16 * 1024) return undefined;
  try {
    const v = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Principal } from '../auth/roles.js';
import type { Logger } from '../log/logger.js';

/** The header a request id comes in and goes back in. */
export const REQUEST_ID_HEADER = 'X-Request-Id';

/** A client's request id is taken only if it is short and plain (no spaces, quotes or controls). */
const REQUEST_ID = /^[A-Za-z0-9._:@+=-]{1,128}$/;

/**
 * Query parameters whose values are logged: flags, names and filters that carry no secret.
 * Every other value (a callback URL may hold a token, a file name is the client's business)
 * is logged as `*`, its name kept.
 */
const LOGGED_QUERY_VALUES: ReadonlySet<string> = new Set([
  'force', 'engines', 'engine', 'status', 'limit', 'cursor', 'created_after', 'created_before', 'sha256', 'wait',
]);

/** How much of a path is logged: enough to read, not enough to flood a line. */
const PATH_LIMIT = 512;

/** The client's request id if it is plain enough to log and echo, else a fresh UUID. */
export function requestIdOf(header: string | undefined): string {
  return header !== undefined && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * The request target as logged: the path (cut to 512 characters), then the query with every
 * parameter's name but only harmless values (LOGGED_QUERY_VALUES); others become `*`.
 */
export function loggablePath(url: string): string {
  const at = url.indexOf('?');
  const path = (at < 0 ? url : url.slice(0, at)).slice(0, PATH_LIMIT);
  if (at < 0) return path;
  const params = new URLSearchParams(url.slice(at + 1));
  const shown: string[] = [];
  for (const [name, value] of params) {
    if (shown.length >= 20) break;
    const n = name.slice(0, 64);
    shown.push(`${encodeURIComponent(n)}=${LOGGED_QUERY_VALUES.has(name) ? encodeURIComponent(value.slice(0, 128)) : '*'}`);
  }
  return shown.length ? `${path}?${shown.join('&')}` : path;
}

/** Who made the request, as logged: a token's name and id, never its secret. */
function callerOf(ctx: Context): Record<string, unknown> {
  const p = ctx.state.principal as Principal | undefined;
  if (p?.kind === 'token') return { token: { id: p.tokenId, name: p.name, role: p.role } };
  return {};
}

/** Names on the request's access line the jobs it created (an upload's, one per engine). */
export function noteCreatedJobs(ctx: Context, jobids: readonly string[]): void {
  ctx.state.createdJobs = jobids;
}

/**
 * The job a request is about, as the job lines name it: the job(s) it created (`jobid`, or
 * `jobids` for a submission to several engines), else a route's `:id`.
 */
function jobOf(ctx: Context): Record<string, unknown> {
  const created = ctx.state.createdJobs as readonly string[] | undefined;
  if (created?.length) return created.length === 1 ? { jobid: created[0] } : { jobids: created };
  const id = (ctx.params as Record<string, string> | undefined)?.id;
  return typeof id === 'string' && /^[1-9][0-9]{0,19}$/.test(id) ? { jobid: id } : {};
}

/** Options of an app's access log. */
export interface AccessLogOptions {
  /** `public` or `internal`: which listener the app serves (a field of every line). */
  listener: 'public' | 'internal';
  /** The level of the lines: the public API's at info, the internal API's at debug. */
  level: 'info' | 'debug';
}

/**
 * One line per request when its response ends (or the client goes away): method, path
 * (loggablePath), route, status, duration, bytes in and out, caller and request id. The request
 * id is taken from X-Request-Id (if plain) or made, sent back in the same header, and put on
 * `ctx.state.log`, a child logger for the request's own lines. Mounted first, outside the
 * error middleware, so the status is the one sent.
 */
export function accessLog(log: Logger, o: AccessLogOptions) {
  return async function logAccess(ctx: Context, next: Next): Promise<void> {
    const requestId = requestIdOf(ctx.get(REQUEST_ID_HEADER) || undefined);
    ctx.set(REQUEST_ID_HEADER, requestId);
    ctx.state.log = log.child({ requestId });
    // The internal API's lines are at debug, mostly off: then nothing is measured or built.
    if (!log.isLevelEnabled(o.level)) return next();
    const started = process.hrtime.bigint();
    const socket = ctx.req.socket;
    const [readBefore, writtenBefore] = [socket.bytesRead, socket.bytesWritten];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      const length = Number(ctx.get('content-length'));
      const route = ctx._matchedRoute;
      (ctx.state.log as Logger)[o.level]({
        listener: o.listener, method: ctx.method.slice(0, 16), path: loggablePath(ctx.originalUrl),
        route: typeof route === 'string' ? route : null, status: ctx.res.headersSent ? ctx.res.statusCode : null,
        durationMs: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        bytesIn: Number.isSafeInteger(length) ? length : socket.bytesRead - readBefore,
        bytesOut: socket.bytesWritten - writtenBefore,
        aborted: !ctx.res.writableFinished,
        ...callerOf(ctx), ...jobOf(ctx),
      }, 'request');
    };
    ctx.res.once('finish', finish);
    ctx.res.once('close', finish);
    await next();
  };
}

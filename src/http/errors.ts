import type { Context, Next } from 'koa';
import { AppError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** The logger of an app; the composition root decides where it goes. */
export type Log = Logger;

/**
 * The one place where an error becomes a response, for every Koa app (the frontend's public
 * and internal apps, the enforcer's API): `{error:{code,message}}` with the code's status.
 * Unknown errors are logged and answered as a bare 500; driver messages and stacks never
 * reach the client. A request no route answered becomes 404, 405 (with the router's
 * `Allow`) or 501, as JSON.
 */
export function errorMiddleware(log: Log, counted?: (code: ErrorCode) => void) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.body === undefined || ctx.body === null) unanswered(ctx);
    } catch (err) {
      const { status, code, message } = describe(err);
      counted?.(code);
      // The request's own logger (its request id) when the access log made one.
      if (status >= 500 && status !== 501 && status !== 503) ((ctx.state.log as Logger | undefined) ?? log).error({ err, code, method: ctx.method, path: ctx.path.slice(0, 200) }, `${ctx.method} ${ctx.path.slice(0, 200)}: ${code}: ${chain(err)}`);
      ctx.status = status;
      if (!ctx.req.complete && hasBody(ctx)) unreadBody(ctx);
      ctx.type = 'application/json';
      ctx.body = { error: { code, message } };
      const retryAfter = err instanceof AppError ? err.retryAfter : undefined;
      if (retryAfter !== undefined) ctx.set('Retry-After', String(retryAfter));
      else if (status === 503) ctx.set('Retry-After', '5');
    }
  };
}

/** Unread bodies up to this size are read and dropped after an error answer. */
const DRAIN_LIMIT = 64 * 1024;

/**
 * A body nobody read (a refused upload). A large one, or one already partly read (it
 * stalled or broke off), is not read further: the connection closes. A small untouched one
 * is read and dropped after the answer (for at most 5 s): closing with unread
 * bytes makes the kernel reset the connection, and a client still sending may then lose the
 * answer and see only a broken pipe.
 */
function unreadBody(ctx: Context): void {
  const length = Number(ctx.get('content-length') || NaN);
  if (!(length <= DRAIN_LIMIT) || ctx.get('transfer-encoding') !== '' || ctx.req.readableDidRead) {
    ctx.set('Connection', 'close');
    return;
  }
  const req = ctx.req;
  const timer = setTimeout(() => req.socket.destroy(), 5000);
  timer.unref();
  const done = (): void => clearTimeout(timer);
  req.once('end', done);
  req.once('close', done);
}

function hasBody(ctx: Context): boolean {
  return Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
}

/** Throws the error for a request that no route answered (the router left only a status). */
function unanswered(ctx: Context): void {
  if (ctx.status === 404) throw new AppError('NOT_FOUND', `no route for ${ctx.method} ${JSON.stringify(ctx.path.slice(0, 100))}`);
  if (ctx.status === 405) throw new AppError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed here; allowed: ${ctx.response.get('Allow') || 'none'}`);
  if (ctx.status === 501) throw new AppError('NOT_IMPLEMENTED', `method ${ctx.method} is not implemented`);
}

/** Codes for errors that Koa or its middleware threw with a status (http-errors). */
const BY_STATUS: Readonly<Record<number, ErrorCode>> = { 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 413: 'BODY_TOO_LARGE', 501: 'NOT_IMPLEMENTED' };

function describe(err: unknown): { status: number; code: ErrorCode; message: string } {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message };
  const e = err as { status?: number; expose?: boolean; message?: string };
  if (typeof e.status === 'number' && ((e.status >= 400 && e.status < 500) || e.status === 501)) {
    return { status: e.status, code: BY_STATUS[e.status] ?? 'BAD_REQUEST', message: (e.expose && e.message) || 'bad request' };
  }
  return { status: 500, code: 'INTERNAL_ERROR', message: 'internal error; the event was logged' };
}

/** An error and its causes, for logs only. */
export function chain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
  return parts.join(' <- ');
}

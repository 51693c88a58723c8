import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

/** Logs one line; the composition root decides where it goes. */
export type Log = (line: string) => void;

/**
 * The one place where an error becomes a response: `{error:{code,message}}` with the
 * error's status. Unknown errors are logged and answered as a bare 500; driver messages
 * and stacks never reach the client.
 */
export function errorMiddleware(log: Log) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('NOT_FOUND', 404, `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const { status, code, message } = describe(err);
      if (status >= 500) log(`${ctx.method} ${ctx.path}: ${code}: ${chain(err)}`);
      ctx.status = status;
      ctx.type = 'application/json';
      ctx.body = { error: { code, message } };
      if (status === 503) ctx.set('Retry-After', '5');
    }
  };
}

function describe(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof AppError) return { status: err.status, code: err.code, message: err.message };
  const e = err as { status?: number; expose?: boolean; message?: string; type?: string };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    const code = e.status === 413 ? 'BODY_TOO_LARGE' : e.status === 405 ? 'METHOD_NOT_ALLOWED' : 'BAD_REQUEST';
    return { status: e.status, code, message: (e.expose && e.message) || 'bad request' };
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

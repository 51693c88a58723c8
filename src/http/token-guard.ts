import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { UnauthorizedError } from '../errors.js';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Middleware that lets a request through only with `Authorization: Bearer <token>`, or a
 * token `alsoAccept` vouches for (a worker node's own API token). Both
 * sides are hashed before the constant-time compare, so neither the time nor a length check
 * tells anything about the token. Mount it on the app or router it guards, never in front of
 * a path test: a path regex and the router disagree about case, encoding and slashes.
 */
export function requireToken(token: string, alsoAccept?: (presented: string) => Promise<boolean>) {
  if (token.length === 0) throw new Error('requireToken needs a non-empty token');
  const want = digest(token);
  return async function checkToken(ctx: Context, next: Next): Promise<void> {
    const m = /^Bearer ([^\s]+)$/.exec(ctx.get('authorization'));
    const got = digest(m?.[1] ?? '');
    const shared = timingSafeEqual(want, got) && !!m;
    if (!shared && !(m && alsoAccept && (await alsoAccept(m[1] as string)))) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedError();
    }
    await next();
  };
}

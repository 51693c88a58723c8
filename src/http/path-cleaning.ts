import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

/**
 * Cleans a URL path the way the original's Go server did (path.Clean, trailing slash kept):
 * doubled slashes and `.` segments dropped, `..` removes the segment before it and never
 * climbs above the root. The result starts with exactly one `/`.
 */
export function cleanPath(path: string): string {
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const clean = `/${segments.join('/')}`;
  return clean !== '/' && path.endsWith('/') ? `${clean}/` : clean;
}

/**
 * Answers a request for an unclean path with a 301 to the clean one, query kept: the
 * original's clients fetch `base + link` with a base ending in `/`, so they ask for
 * `//link/<id>`. Only for the public app, which has no internal routes at all: a path that
 * cleans to `/internal/...` is redirected to a 404. A path with a backslash or bytes outside
 * printable ASCII is not redirected (browsers read `/\host` as another host), only refused.
 */
export function cleanPaths() {
  return async function redirectUnclean(ctx: Context, next: Next): Promise<void> {
    const raw = ctx.req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    if (!path.startsWith('/')) return next();
    const clean = cleanPath(path);
    if (clean === path) return next();
    if (path.includes('\\') || !/^[\x21-\x7e]*$/.test(raw)) throw new AppError('NOT_FOUND', 'no such path');
    ctx.status = 301;
    ctx.set('Location', clean + (q < 0 ? '' : raw.slice(q)));
    ctx.body = { location: clean };
  };
}

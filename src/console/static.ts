import Router from '@koa/router';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';

/** The console's files in the repository (and in the runtime image, /app/console). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

/**
 * The console's CSP: its own scripts, styles and API only; no inline script or style, no
 * framing, no plugins. Results and logs are fetched as data and shown as text.
 */
export const CONSOLE_CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
].join('; ');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Reads every servable file under `dir` once, keyed by its URL path below /console/. */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (TYPES[extname(name)]) {
        const body = readFileSync(path);
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        assets.set(relative(dir, path).split(sep).join('/'), { body, type: TYPES[extname(name)] as string, etag });
      }
    }
  };
  walk(dir);
  if (!assets.has('index.html')) throw new Error(`the console's files are missing: no index.html in ${dir}`);
  return assets;
}

/** Security headers on every console answer, file or not. */
function harden(ctx: Context): void {
  ctx.set('Content-Security-Policy', CONSOLE_CSP);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
  ctx.set('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
}

/**
 * Serves the console's static files at /console/ from memory: no token (the files hold no
 * data; every API call the page makes needs one), no directory listing, no path from the
 * request ever reaches the file system. Unknown files are a 404 with the same CSP.
 */
export function consoleRoutes(assets: Map<string, Asset>): Router {
  const router = new Router({ sensitive: true, strict: true });
  router.get('/console', (ctx) => {
    harden(ctx);
    ctx.redirect('/console/');
  });
  router.get('/console/{*path}', (ctx) => {
    harden(ctx);
    const raw: unknown = ctx.params.path;
    const path = (Array.isArray(raw) ? raw.join('/') : String(raw ?? '')) || 'index.html';
    const asset = assets.get(path);
    if (!asset) {
      ctx.status = 404;
      ctx.body = { error: { code: 'NOT_FOUND', message: 'no such console file' } };
      return;
    }
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', asset.etag);
    if (ctx.get('if-none-match') === asset.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = asset.type;
    ctx.body = asset.body;
  });
  return router;
}

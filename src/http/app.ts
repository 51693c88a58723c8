import Router from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import type { Authenticator } from '../auth/authenticator.js';
import type { EngineStatusBoard } from '../engines/status.js';
import type { JobContainers } from '../jobs/job-containers.js';
import type { JobService } from '../jobs/service.js';
import type { Submissions } from '../jobs/submission.js';
import type { FrontendMetrics } from '../metrics/frontend-metrics.js';
import { checkReadiness, type Check } from '../metrics/readiness.js';
import type { FileStore } from '../storage/file-store.js';
import { accessLog } from './access-log.js';
import { authenticate, authorize } from './auth.js';
import { errorMiddleware, type Log } from './errors.js';
import { internalRoutes } from './internal-routes.js';
import { cleanPaths } from './path-cleaning.js';
import { publicRoutes, type UploadLimits } from './public-routes.js';
import type { UploadGate } from './submit-upload.js';
import { requireToken } from './token-guard.js';

/** What the public app needs. */
export interface AppDeps {
  service: JobService;
  files: FileStore;
  /** Resolves when every dependency answers; throws an UnavailableError otherwise. */
  health: () => Promise<void>;
  log: Log;
  /** Who may call the public routes (API tokens, or open). */
  auth: Authenticator;
  /** Bounds on uploads; the configuration's defaults when absent. */
  uploads?: UploadLimits;
  /** Submissions with the result cache and idempotency keys (plain submissions when absent). */
  submissions?: Submissions;
  /** Upload bounds shared by every upload route. */
  gate?: UploadGate;
  callbackPrefixes?: readonly string[];
  /** More routers (API v1, src/api), mounted after the original routes. */
  routers?: readonly Router[];
  /** The frontend's metrics: requests and errors are counted, and served at /metrics. */
  metrics?: FrontendMetrics;
  /** The dependencies /readyz checks (each bounded in time); none: /readyz is always ready. */
  ready?: Readonly<Record<string, Check>>;
}

/** What the internal app needs. */
export interface InternalAppDeps {
  service: JobService;
  internalToken: string;
  /** Besides the shared token, active `worker` API tokens (one per worker node) are taken. */
  auth?: Authenticator;
  health: () => Promise<void>;
  log: Log;
  /** Where menage nodes' engine reports are kept. */
  engines?: EngineStatusBoard;
  /** Which warm-pool container runs which job. */
  containers?: JobContainers;
}

/**
 * A Koa app with the access log, request counts (when metrics are given), the shared error
 * middleware and headers; routes are added by the callers. The public API's access log is at
 * info, the internal API's at debug.
 */
function baseApp(log: Log, listener: 'public' | 'internal', metrics?: FrontendMetrics): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(accessLog(log, { listener, level: listener === 'public' ? 'info' : 'debug' }));
  if (metrics) app.use(countRequests(metrics));
  app.use(errorMiddleware(log, metrics && ((code) => metrics.error(code))));
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  return app;
}

/**
 * The public API (upload, result, link, job details, healthz), for the public listener. It
 * holds no internal route at all, so no spelling of /internal can reach one. Unclean paths
 * (`//link/1`, `/result/./1`) get a 301 to the clean path, as the original did. It never listens.
 */
export function createApp(deps: AppDeps): Koa {
  const app = baseApp(deps.log, 'public', deps.metrics);
  app.use(cleanPaths());
  for (const router of publicRouters(deps)) app.use(router.routes()).use(router.allowedMethods());
  return app;
}

/** The public app's routers, in the order they are mounted (test/e2e/openapi.test.ts walks them). */
export function publicRouters(deps: AppDeps): Router[] {
  // Health is for load balancers and the container's health check: no token. /healthz says
  // the process answers; /readyz that its dependencies do (docs/observability.md).
  const open = new Router({ sensitive: true, strict: false });
  open.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  open.get('/readyz', async (ctx) => {
    const r = await checkReadiness(deps.ready ?? {});
    if (r.status !== 'ready') {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
    }
    ctx.body = r;
  });
  // Tokens mode: a token whose role may read metrics (read, admin); open mode: anyone.
  const registry = deps.metrics?.registry ?? new Registry();
  open.get('/metrics', authenticate(deps.auth), async (ctx) => {
    authorize(ctx, 'metrics');
    ctx.body = await registry.metrics();
    ctx.type = registry.contentType;
  });
  const router = publicRoutes({
    service: deps.service, files: deps.files, auth: deps.auth, ...(deps.uploads ? { limits: deps.uploads } : {}),
    ...(deps.submissions ? { submissions: deps.submissions } : {}), ...(deps.gate ? { gate: deps.gate } : {}),
    ...(deps.callbackPrefixes ? { callbackPrefixes: deps.callbackPrefixes } : {}),
  });
  return [open, router, ...(deps.routers ?? [])];
}

/** Counts every answered request by method, matched route pattern and final status. */
function countRequests(metrics: FrontendMetrics) {
  return async function count(ctx: Koa.Context, next: Koa.Next): Promise<void> {
    try {
      await next();
    } finally {
      const route = ctx._matchedRoute;
      metrics.request(ctx.method, typeof route === 'string' ? route : 'unmatched', ctx.status);
    }
  };
}

/**
 * The internal API (src/contract), for the internal listener only. The token guard is the
 * app's first middleware after errors: nothing on this listener, known path or not, answers
 * without the token. Routing is case-sensitive and strict; no path cleaning. It never listens.
 */
export function createInternalApp(deps: InternalAppDeps): Koa {
  const app = baseApp(deps.log, 'internal');
  const auth = deps.auth;
  app.use(requireToken(deps.internalToken, auth ? (t) => auth.hasRole(t, 'worker') : undefined));
  const router = internalRoutes({
    service: deps.service, health: deps.health, ...(deps.engines ? { engines: deps.engines } : {}), ...(deps.containers ? { containers: deps.containers } : {}),
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

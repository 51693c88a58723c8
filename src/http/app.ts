import Koa from 'koa';
import type { JobService } from '../jobs/service.js';
import type { FileStore } from '../storage/file-store.js';
import { errorMiddleware, type Log } from './errors.js';
import { internalRoutes, requireToken } from './internal-routes.js';
import { publicRoutes, type UploadLimits } from './public-routes.js';

export interface AppDeps {
  service: JobService;
  files: FileStore;
  internalToken: string;
  /** Resolves when every dependency answers; throws an UnavailableError otherwise. */
  health: () => Promise<void>;
  log: Log;
  /** Bounds on uploads; the configuration's defaults when absent. */
  uploads?: UploadLimits;
}

/** Builds the frontend's Koa app (public API + internal API). It never listens. */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  app.use(errorMiddleware(deps.log));
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  const pub = publicRoutes(deps.service, deps.files, deps.uploads);
  pub.get('/healthz', async (ctx) => {
    await deps.health();
    ctx.body = { status: 'ok' };
  });
  const checkToken = requireToken(deps.internalToken);
  app.use(async (ctx, next) => (/^\/internal(\/|$)/.test(ctx.path) ? checkToken(ctx, next) : next()));
  const internal = internalRoutes(deps.service);
  app.use(internal.routes()).use(internal.allowedMethods({ throw: true }));
  app.use(pub.routes()).use(pub.allowedMethods({ throw: true }));
  return app;
}

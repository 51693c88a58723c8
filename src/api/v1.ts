import Router from '@koa/router';
import type { Authenticator } from '../auth/authenticator.js';
import type { Engine } from '../engines/engines.js';
import { authenticate } from '../http/auth.js';
import type { JobService } from '../jobs/service.js';
import { enginesRoutes, ENGINES_API, type EngineStatusSource, type QueueDepthSource } from './engines-route.js';
import { JOB_CONTROL_API } from './job-control-openapi.js';
import { jobControlRoutes, type JobControlDeps } from './job-control-routes.js';
import { jobsRoutes, JOBS_API } from './jobs-routes.js';
import { buildOpenApi, jsonResponse, open, type ApiFragment } from './openapi.js';
import { MONITOR_API } from './monitor-api.js';
import { ORIGINAL_API } from './original-api.js';

/** The prefix of API v1. */
export const API_V1 = '/api/v1';

/** What the API v1 route modules need (job-control's modules add theirs here). */
export interface ApiDeps {
  service: JobService;
  auth: Authenticator;
  /** The engines uploads go to now (engines.json can be reloaded while running). */
  engines: () => readonly Engine[];
  engineStatus?: EngineStatusSource;
  queueDepth?: QueueDepthSource;
  /** Cancel, retry, submissions (the routes fail with a 500 if mounted without them). */
  jobControl?: JobControlDeps;
}

/** A route module of API v1: its routes (paths relative to /api/v1) and its OpenAPI fragment. */
export interface ApiModule {
  routes(deps: ApiDeps): Router;
  fragment: ApiFragment;
}

/**
 * Every token-guarded module of API v1. A new module is one more entry: its routes are
 * mounted behind the token check and its fragment joins the OpenAPI document, which
 * test/e2e/openapi.test.ts holds against the mounted routes.
 */
export const API_MODULES: readonly ApiModule[] = [
  { routes: enginesRoutes, fragment: ENGINES_API },
  { routes: jobsRoutes, fragment: JOBS_API },
  { routes: jobControlRoutes, fragment: JOB_CONTROL_API },
];

const OPENAPI_ROUTE: ApiFragment = {
  schemas: {},
  paths: {
    '/api/v1/openapi.json': {
      get: open({ operationId: 'openapi', summary: 'This document (no token)',
        responses: { 200: jsonResponse('the OpenAPI 3.1 document', { type: 'object', required: ['openapi', 'paths'] }) } }),
    },
  },
};

/** The whole public API's OpenAPI document: the original routes, every v1 module, the console's /monitor calls. */
export function openApiDocument(modules: readonly ApiModule[] = API_MODULES): Record<string, unknown> {
  return buildOpenApi([ORIGINAL_API, OPENAPI_ROUTE, ...modules.map((m) => m.fragment), MONITOR_API], '1');
}

/**
 * The /api/v1 routers, mounted after the original routes: the document (no token), then the
 * modules behind the same authentication middleware the original routes use.
 */
export function apiRouters(deps: ApiDeps, modules: readonly ApiModule[] = API_MODULES): Router[] {
  const document = JSON.stringify(openApiDocument(modules));
  const openRouter = new Router({ prefix: API_V1, sensitive: true, strict: false });
  openRouter.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = document;
  });
  const guarded = new Router({ prefix: API_V1, sensitive: true, strict: false });
  guarded.use(authenticate(deps.auth));
  for (const m of modules) {
    const r = m.routes(deps);
    guarded.use(r.routes());
  }
  return [openRouter, guarded];
}

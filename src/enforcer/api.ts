import Koa from 'koa';
import { Router } from '@koa/router';
import { errorMiddleware } from '../http/errors.js';
import { requireToken } from '../http/token-guard.js';
import { checkReadiness, type Check } from '../metrics/readiness.js';
import type { EnforcerConfig } from './config.js';
import type { Detection, DetectionLog } from './detections.js';
import type { Judge } from './judge.js';
import type { Log } from './log.js';
import type { EnforcerMetrics } from './prometheus.js';
import type { Triggers } from './triggers.js';
import { asLogger } from './log.js';

/** What the HTTP API reads. */
export interface ApiDeps {
  readonly judge: Judge;
  readonly detections: DetectionLog;
  readonly metrics: EnforcerMetrics;
  readonly triggers: Triggers;
  readonly config: EnforcerConfig;
  readonly token?: string;
  /** Where 500s are logged (with their cause). */
  readonly log: Log;
  /** What /readyz checks (the Docker engine); each bounded in time. */
  readonly ready?: Readonly<Record<string, Check>>;
}

/** The enforcer's read-only HTTP API (docker-enforcer's endpoints). Never listens itself. */
export function createApiApp(deps: ApiDeps): Koa {
  const app = new Koa();
  app.silent = true;
  const router = new Router({ sensitive: true, strict: true });
  router.get('/', (ctx) => void (ctx.body = { detections: deps.detections.history().map((d) => view(d, ctx.query)) }));
  router.get('/recent', (ctx) => void (ctx.body = { detections: deps.detections.recent().map((d) => view(d, ctx.query)) }));
  router.get('/metrics', async (ctx) => {
    ctx.body = await deps.metrics.render();
    ctx.type = deps.metrics.contentType;
  });
  router.get('/config', (ctx) => void (ctx.body = describeConfig(deps)));
  router.get('/rules', (ctx) => void (ctx.body = { hash: deps.judge.currentRules().hash, rules: deps.judge.currentRules().rules.map((r) => r.source) }));
  router.get('/request_rules', (ctx) => {
    const authz = deps.config.authz;
    const rules = deps.judge.currentRules().rules.filter((r) => !r.usesMetrics).map((r) => r.name);
    ctx.body = { enabled: authz !== undefined, endpoints: ['containers/create', 'containers/{id}/update', 'containers/{id}/exec'], denyPrivilegedExec: authz?.denyPrivilegedExec ?? false, rules };
  });
  router.get('/triggers', (ctx) => void (ctx.body = deps.triggers.describe()));
  app.use(errorMiddleware(asLogger(deps.log)));
  // Probes need no token and learn nothing but which check failed.
  const health = new Router({ sensitive: true, strict: true });
  health.get('/healthz', (ctx) => void (ctx.body = { status: 'ok' }));
  health.get('/readyz', async (ctx) => {
    const r = await checkReadiness(deps.ready ?? {});
    if (r.status !== 'ready') ctx.status = 503;
    ctx.body = r;
  });
  app.use(health.routes());
  if (deps.token !== undefined) app.use(requireToken(deps.token));
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

type Query = Record<string, string | string[] | undefined>;

/** A detection as the API shows it; all rules and image/labels only when asked for. */
function view(d: Detection, q: Query): Record<string, unknown> {
  const first = d.violations[0];
  const out: Record<string, unknown> = {
    id: d.containerId, name: d.name, source: d.source, time: d.time, first_time: d.firstTime, count: d.count, mode: d.mode, outcome: d.outcome,
    violated_rule: first?.rule, message: first?.message, ...(d.detail === undefined ? {} : { detail: d.detail }),
  };
  if (q.show_all_violated_rules === '1') out.violated_rules = d.violations.map((v) => ({ rule: v.rule, message: v.message, action: v.action.type }));
  if (q.show_image_and_labels === '1') Object.assign(out, { image: d.image, labels: d.labels });
  return out;
}

function describeConfig(deps: ApiDeps): Record<string, unknown> {
  const c = deps.config;
  const rules = deps.judge.currentRules();
  return {
    rules: { file: rules.file, hash: rules.hash, count: rules.rules.length },
    mode: c.mode, stopOnFirstViolation: c.stopOnFirstViolation,
    sources: { periodic: c.periodic ?? null, events: c.events, authz: c.authz ? { listen: c.authz.listen } : null },
    api: c.api ? { listen: c.api.listen, token: c.api.token ? 'set' : 'none' } : null,
    stats: c.stats, actionTimeoutSeconds: c.actionTimeoutSeconds,
    triggers: { log: c.triggers.log, webhooks: c.triggers.webhooks.map((w) => redactUrl(w.url)) },
    frontend: c.frontend ? { url: redactUrl(c.frontend.url), internalToken: c.frontend.internalToken ? 'set' : 'none' } : null,
  };
}

function redactUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  return u.toString();
}

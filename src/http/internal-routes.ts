import Router from '@koa/router';
import { koaBody } from 'koa-body';
import type { Context } from 'koa';
import {
  BYTE_COUNT, CALLS, checkRequest, CONTAINER_ID_PATTERN, HEADERS, isLease, JSON_LIMIT, LOG_LIMIT, REPORT_LIMIT, type JobStatusView, type RequestTypes,
} from '../contract/index.js';
import type { EngineStatusBoard } from '../engines/status.js';
import { AppError, InvalidError } from '../errors.js';
import type { JobContainers } from '../jobs/job-containers.js';
import type { Job } from '../jobs/job.js';
import type { JobService } from '../jobs/service.js';
import { readPrefix } from './body-prefix.js';
import { jobId } from './public-routes.js';

/** What the internal routes need besides the job service. */
export interface InternalRouteDeps {
  service: JobService;
  /** Resolves when every dependency answers; throws an UnavailableError otherwise. */
  health: () => Promise<void>;
  /** Where menage nodes' engine reports (image digests, slots) are kept. */
  engines?: EngineStatusBoard;
  /** Which warm-pool container runs which job. */
  containers?: JobContainers;
}

const json = koaBody({
  json: true, multipart: false, urlencoded: false, text: false, jsonLimit: JSON_LIMIT, jsonStrict: true,
  onError: (err) => {
    if ((err as { status?: number }).status === 413) throw new AppError('BODY_TOO_LARGE', `the JSON body is larger than ${JSON_LIMIT} bytes`);
    throw new InvalidError('INVALID_JSON', 'the body is not valid JSON', { cause: err });
  },
});

/** The parsed JSON body, checked against the contract's request schema. */
function body<K extends keyof RequestTypes>(ctx: Context, name: K): RequestTypes[K] {
  const checked = checkRequest(name, (ctx.request as unknown as { body?: unknown }).body);
  if (!checked.ok) throw new InvalidError(/\/lease /.test(`${checked.problems} `) ? 'INVALID_LEASE' : 'INVALID_REQUEST', `invalid ${name} request: ${checked.problems}`);
  return checked.value;
}

const CONTAINER_ID = new RegExp(CONTAINER_ID_PATTERN);

/** A job's operator view (`status`, `containerJob`). */
function statusView(job: Job): JobStatusView {
  return { jobid: job.id, engine: job.engine, status: job.status, lease: job.lease, attempts: job.attempts, lastError: job.lastError };
}

/** The container bindings, which a frontend without a database behind it does not have. */
function containers(d: InternalRouteDeps): JobContainers {
  if (!d.containers) throw new AppError('NOT_IMPLEMENTED', 'this frontend keeps no container bindings');
  return d.containers;
}

/** The lease header of a streamed call. */
function lease(ctx: Context): string {
  const l = ctx.get(HEADERS.lease);
  if (!isLease(l)) throw new InvalidError('INVALID_LEASE', `header ${HEADERS.lease} is missing or malformed`);
  return l;
}

/** Reads the containment report that opens a result call's body (see CALLS.result). */
async function report(ctx: Context): Promise<Record<string, unknown> | undefined> {
  const declared = ctx.get(HEADERS.reportLength);
  if (!BYTE_COUNT.test(declared)) throw new InvalidError('INVALID_REQUEST', `header ${HEADERS.reportLength} is missing or not a byte count`);
  const length = Number(declared);
  if (length > REPORT_LIMIT) throw new AppError('REPORT_TOO_LARGE', `the containment report is ${length} bytes; the limit is ${REPORT_LIMIT}`);
  const head = await readPrefix(ctx.req, length);
  let parsed: unknown = null;
  try {
    if (length > 0) parsed = JSON.parse(head.toString('utf8'));
  } catch (err) {
    throw new InvalidError('INVALID_JSON', 'the containment report is not valid JSON', { cause: err });
  }
  const checked = checkRequest('report', parsed);
  if (!checked.ok) throw new InvalidError('INVALID_REQUEST', `invalid containment report: ${checked.problems}`);
  return checked.value ?? undefined;
}

/** The engine's output that follows the report in a result call, if its length header is given. */
async function output(ctx: Context): Promise<Buffer | undefined> {
  const declared = ctx.get(HEADERS.logLength);
  if (declared === '') return undefined;
  if (!BYTE_COUNT.test(declared)) throw new InvalidError('INVALID_REQUEST', `header ${HEADERS.logLength} is not a byte count`);
  const length = Number(declared);
  if (length > LOG_LIMIT) throw new AppError('BODY_TOO_LARGE', `the engine output is ${length} bytes; the limit is ${LOG_LIMIT}`);
  return readPrefix(ctx.req, length, 'the engine output');
}

/**
 * The internal API that workers and the enforcer use, written against src/contract. It is
 * mounted only on the internal listener's app, behind the token guard (createInternalApp).
 */
export function internalRoutes(d: InternalRouteDeps): Router {
  const { service } = d;
  const router = new Router({ sensitive: true, strict: true });
  router.get(CALLS.health.route, async (ctx) => {
    await d.health();
    ctx.body = { status: 'ok' };
  });
  router.get(CALLS.status.route, async (ctx) => {
    ctx.body = statusView(await service.get(jobId(ctx)));
  });
  router.post(CALLS.start.route, json, async (ctx) => {
    ctx.body = await service.start(jobId(ctx), body(ctx, 'start').worker);
  });
  router.get(CALLS.input.route, async (ctx) => {
    const { stream, size } = await service.openInput(jobId(ctx));
    ctx.type = 'application/octet-stream';
    ctx.length = size;
    ctx.body = stream;
  });
  router.put(CALLS.log.route, async (ctx) => {
    await service.saveLog(jobId(ctx), lease(ctx), ctx.req, LOG_LIMIT);
    ctx.body = { saved: true };
  });
  router.put(CALLS.result.route, async (ctx) => {
    const id = jobId(ctx);
    const l = lease(ctx);
    const containment = await report(ctx);
    ctx.body = await service.succeed(id, l, ctx.req, containment, await output(ctx));
  });
  router.post(CALLS.fail.route, json, async (ctx) => {
    const b = body(ctx, 'fail');
    if (b.log && !b.lease) throw new InvalidError('INVALID_REQUEST', 'log: true needs the lease (a worker\'s own failure)');
    ctx.body = await service.fail(jobId(ctx), b.lease, b.reason, b.detail, b.containment ?? undefined, b.log === true);
  });
  router.post(CALLS.heartbeat.route, json, async (ctx) => {
    ctx.body = await service.heartbeat(jobId(ctx), body(ctx, 'heartbeat').lease);
  });
  router.post(CALLS.release.route, json, async (ctx) => {
    const b = body(ctx, 'release');
    const id = jobId(ctx);
    // The job service logs the hand-back with the worker's error (never shown to clients).
    ctx.body = await service.release(id, b.lease, b.error, b.infrastructure === true);
  });
  router.put(CALLS.container.route, json, async (ctx) => {
    const b = body(ctx, 'container');
    await containers(d).bind(jobId(ctx), b.lease, b.container);
    ctx.body = { bound: true };
  });
  router.get(CALLS.containerJob.route, async (ctx) => {
    const id = ctx.params.id ?? '';
    if (!CONTAINER_ID.test(id)) throw new InvalidError('INVALID_REQUEST', 'a container id is 64 lower-case hex digits');
    ctx.body = statusView(await containers(d).jobOf(id));
  });
  router.put(CALLS.engines.route, json, async (ctx) => {
    d.engines?.report(body(ctx, 'engines'));
    ctx.body = { saved: d.engines !== undefined };
  });
  return router;
}

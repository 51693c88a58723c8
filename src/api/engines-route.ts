import Router from '@koa/router';
import type { Context } from 'koa';
import type { Engine } from '../engines/engines.js';
import type { EngineStatusSource } from '../engines/status.js';
import { ForbiddenError } from '../errors.js';
import { grant } from '../auth/roles.js';
import { principalOf } from '../http/auth.js';
import { jsonResponse, secured, type ApiFragment } from './openapi.js';

/** What the workers report about an engine: src/engines/status.ts (EngineStatusBoard implements it). */
export type { EngineStatusSource };

/** Knows nothing: every digest and slot count is null. */
export const NO_ENGINE_STATUS: EngineStatusSource = { digest: () => null, slots: () => null };

/** Messages waiting in an engine's queue (src/queue/depth.ts); null if the broker cannot say. */
export interface QueueDepthSource {
  depth(engine: string): Promise<number | null>;
}

/** What the engines route needs. */
export interface EnginesRouteDeps {
  engines: () => readonly Engine[];
  engineStatus?: EngineStatusSource;
  queueDepth?: QueueDepthSource;
}

/** An engine as GET /api/v1/engines shows it. */
export function describeEngine(e: Engine, status: EngineStatusSource, depth: number | null): Record<string, unknown> {
  return {
    name: e.name, image: e.image, digest: status.digest(e.name), workers: e.workers, sizelimit: e.sizelimit,
    timeout: e.timeoutMs / 1000, cache: (e as Engine & { cache?: boolean }).cache ?? false,
    containment: {
      memory: e.containment.memoryBytes, cpus: e.containment.nanoCpus / 1e9, pids: e.containment.pids,
      network: e.containment.network, readonly: e.containment.readonly,
      apparmor: e.containment.apparmor !== undefined, seccomp: e.containment.seccomp !== undefined,
    },
    queue: { depth }, slots: status.slots(e.name),
  };
}

/** A caller with 'read' or 'submit' may list engines; others get a 403. */
function mayListEngines(ctx: Context): void {
  const p = principalOf(ctx);
  if (!grant(p, 'read') && !grant(p, 'submit')) throw new ForbiddenError(`a ${p.kind === 'token' ? p.role : ''} token may not list engines`);
}

/** GET /engines (under /api/v1). */
export function enginesRoutes(deps: EnginesRouteDeps): Router {
  const router = new Router();
  const status = deps.engineStatus ?? NO_ENGINE_STATUS;
  router.get('/engines', async (ctx) => {
    mayListEngines(ctx);
    const engines = deps.engines();
    const depths = await Promise.all(engines.map((e) => deps.queueDepth?.depth(e.name) ?? Promise.resolve(null)));
    ctx.body = { engines: engines.map((e, i) => describeEngine(e, status, depths[i] ?? null)) };
  });
  return router;
}

const NULLABLE_INT = { type: ['integer', 'null'], minimum: 0 };

const ENGINE_SCHEMA = {
  type: 'object', additionalProperties: false,
  required: ['name', 'image', 'digest', 'workers', 'sizelimit', 'timeout', 'cache', 'containment', 'queue', 'slots'],
  properties: {
    name: { type: 'string' }, image: { type: 'string' }, digest: { type: ['string', 'null'] },
    workers: { type: 'integer', minimum: 1 }, sizelimit: { type: 'integer', minimum: 1, description: 'bytes' },
    timeout: { type: 'number', description: 'seconds' }, cache: { type: 'boolean' },
    containment: {
      type: 'object', additionalProperties: false, required: ['memory', 'cpus', 'pids', 'network', 'readonly', 'apparmor', 'seccomp'],
      properties: {
        memory: { type: 'integer', description: 'bytes' }, cpus: { type: 'number' }, pids: { type: 'integer' },
        network: { const: 'none' }, readonly: { type: 'boolean' },
        apparmor: { type: 'boolean', description: 'an AppArmor profile is set' },
        seccomp: { type: 'boolean', description: 'a custom seccomp profile is set (else Docker\'s default applies)' },
      },
    },
    queue: { type: 'object', additionalProperties: false, required: ['depth'], properties: { depth: NULLABLE_INT } },
    slots: { oneOf: [{ type: 'null' }, { type: 'object', additionalProperties: false, required: ['busy', 'total'],
      properties: { busy: { type: 'integer', minimum: 0 }, total: { type: 'integer', minimum: 0 } } }] },
  },
};

/** The engines route's part of the OpenAPI document. */
export const ENGINES_API: ApiFragment = {
  schemas: { Engine: ENGINE_SCHEMA },
  paths: {
    '/api/v1/engines': {
      get: secured({ operationId: 'listEngines', summary: 'The engines, their limits, containment and queue depth',
        responses: { 200: jsonResponse('the engines', { type: 'object', additionalProperties: false, required: ['engines'],
          properties: { engines: { type: 'array', items: { $ref: '#/components/schemas/Engine' } } } }) } }),
    },
  },
};

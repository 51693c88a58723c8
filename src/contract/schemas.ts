import { Ajv, type ValidateFunction } from 'ajv';
import { JOB_ID_PATTERN, JOB_STATUSES, LEASE_PATTERN } from './ids.js';
import {
  type BoundAnswer, CONTAINER_ID_PATTERN, type ContainerRequest, DETAIL_LIMIT, ENGINES_REPORT_LIMIT, REASON_LIMIT, type EnginesReport, RELEASE_ERROR_LIMIT, type Containment, type ErrorAnswer, type FailRequest, type HealthAnswer, type HeartbeatAnswer, type HeartbeatRequest, type JobStatusView, type JobView,
  type ReleaseRequest, type SavedAnswer, type StartedJob, type StartRequest,
} from './internal-api.js';

/**
 * JSON Schemas of the internal API's JSON bodies, both ways. The frontend validates every
 * request against them, the clients validate every answer: a field one side sends and the
 * other forgets fails a test instead of drifting.
 */
const str = (maxLength: number, minLength = 0) => ({ type: 'string', minLength, maxLength }) as const;
const lease = { type: 'string', pattern: LEASE_PATTERN } as const;
const jobid = { type: 'string', pattern: JOB_ID_PATTERN } as const;
const status = { type: 'string', enum: [...JOB_STATUSES] } as const;
const containment = { type: ['object', 'null'] } as const;
const closed = (properties: Record<string, unknown>, required: string[]) =>
  ({ type: 'object', additionalProperties: false, properties, required }) as const;

/** Request bodies (the frontend's routes validate them). */
export const REQUEST_SCHEMAS = {
  start: closed({ worker: str(128, 1) }, ['worker']),
  // `log`: the detail is the engine's whole output; store it as the job's log too (needs the lease).
  fail: closed({ lease, reason: str(REASON_LIMIT, 1), detail: str(DETAIL_LIMIT), containment, log: { type: 'boolean' } }, ['reason']),
  heartbeat: closed({ lease }, ['lease']),
  container: closed({ lease, container: { type: 'string', pattern: CONTAINER_ID_PATTERN } }, ['lease', 'container']),
  release: closed({ lease, error: str(RELEASE_ERROR_LIMIT, 1), infrastructure: { type: 'boolean' } }, ['lease', 'error']),
  report: containment,
  engines: closed({
    node: str(128, 1),
    engines: {
      type: 'array', maxItems: ENGINES_REPORT_LIMIT,
      items: closed({
        name: str(64, 1), digest: { type: ['string', 'null'], maxLength: 100 },
        busy: { type: 'integer', minimum: 0 }, total: { type: 'integer', minimum: 0 },
      }, ['name', 'digest', 'busy', 'total']),
    },
  }, ['node', 'engines']),
} as const;

const jobView = {
  type: 'object', required: ['status', 'summary', 'link'],
  properties: { status, summary: { type: 'string' }, link: { type: 'string' } },
} as const;

/** A job's operator view (`status`, `containerJob`). */
const jobStatusView = {
  type: 'object', required: ['jobid', 'engine', 'status', 'lease', 'attempts', 'lastError'],
  properties: {
    // Not only worker leases: a job failed without one (reaper, enforcer) keeps a `forced-…` tag.
    jobid, engine: { type: 'string' }, status, lease: { type: ['string', 'null'] },
    attempts: { type: 'integer', minimum: 0 }, lastError: { type: ['string', 'null'] },
  },
} as const;

/** Answers (the clients validate them); extra fields are allowed, so the frontend may add some. */
export const RESPONSE_SCHEMAS = {
  health: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
  status: jobStatusView,
  containerJob: jobStatusView,
  container: { type: 'object', required: ['bound'], properties: { bound: { const: true } } },
  start: {
    type: 'object', required: ['jobid', 'engine', 'lease', 'attempt', 'size', 'deadline', 'heartbeatMs'],
    properties: {
      jobid, engine: { type: 'string', minLength: 1 }, lease, attempt: { type: 'integer', minimum: 1 },
      size: { type: 'integer', minimum: 0 }, deadline: { type: 'string', minLength: 1 }, heartbeatMs: { type: 'integer', minimum: 1 },
    },
  },
  log: { type: 'object', required: ['saved'], properties: { saved: { type: 'boolean' } } },
  engines: { type: 'object', required: ['saved'], properties: { saved: { type: 'boolean' } } },
  result: jobView,
  fail: jobView,
  release: jobView,
  heartbeat: { type: 'object', required: ['deadline'], properties: { deadline: { type: 'string', minLength: 1 } } },
  error: {
    type: 'object', required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;

/** Body types by schema name, so a validated value comes out typed. */
export interface RequestTypes {
  start: StartRequest; fail: FailRequest; heartbeat: HeartbeatRequest; release: ReleaseRequest; report: Containment | null; engines: EnginesReport;
  container: ContainerRequest;
}
export interface ResponseTypes {
  health: HealthAnswer; status: JobStatusView; start: StartedJob; log: SavedAnswer; result: JobView; fail: JobView;
  release: JobView; heartbeat: HeartbeatAnswer; error: ErrorAnswer; engines: SavedAnswer;
  container: BoundAnswer; containerJob: JobStatusView;
}

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const compiled = new Map<object, ValidateFunction>();

function validator(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = ajv.compile(schema)));
  return v;
}

/** Why `value` breaks `schema` ('' when it does not), in one line. */
function problems(schema: object, value: unknown): string {
  const v = validator(schema);
  if (v(value)) return '';
  return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}

/** Checks a request body; returns it typed, or the problems as a string. */
export function checkRequest<K extends keyof RequestTypes>(name: K, value: unknown): { ok: true; value: RequestTypes[K] } | { ok: false; problems: string } {
  const p = problems(REQUEST_SCHEMAS[name], value);
  return p ? { ok: false, problems: p } : { ok: true, value: value as RequestTypes[K] };
}

/** Checks an answer; returns it typed, or the problems as a string. */
export function checkResponse<K extends keyof ResponseTypes>(name: K, value: unknown): { ok: true; value: ResponseTypes[K] } | { ok: false; problems: string } {
  const p = problems(RESPONSE_SCHEMAS[name], value);
  return p ? { ok: false, problems: p } : { ok: true, value: value as ResponseTypes[K] };
}

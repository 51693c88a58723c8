import type { JOB_STATUSES } from './ids.js';

/**
 * The internal API (workers and the enforcer -> frontend), served only on the frontend's
 * internal listener, every call behind `Authorization: Bearer <internalToken>`. Routes, the
 * worker's client and the enforcer's job failer are all written against this file.
 */

/** Header names of the internal API (lower case, as Node gives them). */
export const HEADERS = {
  authorization: 'authorization',
  /** The lease of the caller on calls whose body is a raw stream (log, result). */
  lease: 'x-menagerie-lease',
  /** Result call: the byte length of the JSON containment report that opens the body. */
  reportLength: 'x-menagerie-report-length',
  /** Result call (optional): the byte length of the engine's output that follows the report. */
  logLength: 'x-menagerie-log-length',
} as const;

/** The largest containment report a result call may carry; a larger one is refused (413), never cut. */
export const REPORT_LIMIT = 1024 * 1024;

/** The largest JSON request body of the internal API. */
export const JSON_LIMIT = 2 * 1024 * 1024;

/** The longest failure reason, failure detail (engine output) and release error text, in characters. */
export const REASON_LIMIT = 255;
export const DETAIL_LIMIT = 1024 * 1024;
export const RELEASE_ERROR_LIMIT = 1024;

/** The largest engine output kept per job (menage caps it per engine, usually far lower). */
export const LOG_LIMIT = 4 * 1024 * 1024;

/** A job's status as the wire shows it. */
export type WireStatus = (typeof JOB_STATUSES)[number];

/**
 * The controls that were in force for a container, read back from Docker, and the image that
 * ran the job: `image` as engines.json named it, `imageId` (the content id, sha256:…) and
 * `repoDigests` (registry digests, when the image came from a registry).
 */
export type Containment = Record<string, unknown> & {
  image?: string;
  imageId?: string;
  repoDigests?: string[];
};

/** `POST start` body. */
export interface StartRequest { worker: string }

/** `POST start` answer: what a worker gets when it starts a job. */
export interface StartedJob {
  jobid: string;
  engine: string;
  lease: string;
  attempt: number;
  size: number;
  deadline: string;
  /** How often the worker must renew its lease. */
  heartbeatMs: number;
}

/** `GET job` answer: the operator's view of a job (with the last infrastructure error). */
export interface JobStatusView {
  jobid: string;
  engine: string;
  status: WireStatus;
  lease: string | null;
  attempts: number;
  lastError: string | null;
}

/** The answer to a completion (result, fail, release): the job's public view. */
export interface JobView { status: WireStatus; summary: string; link: string }

/** `POST fail` body. Without a lease (the enforcer) it applies to any unfinished job. */
export interface FailRequest {
  lease?: string;
  reason: string;
  detail?: string;
  containment?: Containment | null;
  /** The detail is the engine's whole output: store it as the job's log too (with the lease only). */
  log?: boolean;
}

/**
 * `PUT container` body: the worker's lease and the id of the warm-pool container (created
 * before the job was known, so without the job's labels) that is about to run the job.
 */
export interface ContainerRequest { lease: string; container: string }

/** `PUT container` answer. */
export interface BoundAnswer { bound: true }

/** A Docker container id as the internal API takes it: 64 lower-case hex digits. */
export const CONTAINER_ID_PATTERN = '^[0-9a-f]{64}$';

/** `POST heartbeat` body and answer. */
export interface HeartbeatRequest { lease: string }
export interface HeartbeatAnswer { deadline: string }

/**
 * `POST release` body. `infrastructure: true` says the hand-back is an outage of our own
 * services (Docker, frontend, broker), not the job's fault.
 */
export interface ReleaseRequest { lease: string; error: string; infrastructure?: boolean }

/** One engine as a menage node reports it: the image it runs now and its worker slots. */
export interface EngineReport {
  name: string;
  /** The Docker image id (`sha256:…`) of the engine's image on this node; null if unknown. */
  digest: string | null;
  /** Jobs running now, and the slots the node has for the engine. */
  busy: number;
  total: number;
}

/** `PUT engines` body: a menage node's engines, sent at start and periodically. */
export interface EnginesReport { node: string; engines: EngineReport[] }

/** The most engines one report may name. */
export const ENGINES_REPORT_LIMIT = 500;

/** `PUT log` answer. */
export interface SavedAnswer { saved: boolean }

/** `GET healthz` answer. */
export interface HealthAnswer { status: 'ok' }

/** Every error answer, on both listeners. */
export interface ErrorAnswer { error: { code: string; message: string } }

/**
 * The calls. `route` is the router's pattern; `body` says what the request carries: a JSON
 * document (validated against the request schema), a raw stream, or nothing. The result
 * call's body is the containment report (JSON, `HEADERS.reportLength` bytes), then the
 * engine's output if `HEADERS.logLength` is given (at most LOG_LIMIT bytes: one call instead
 * of `log` then `result`), then the result bytes: one request, no size cut.
 */
export const CALLS = {
  health: { method: 'GET', route: '/internal/healthz', body: 'none' },
  status: { method: 'GET', route: '/internal/jobs/:id', body: 'none' },
  start: { method: 'POST', route: '/internal/jobs/:id/start', body: 'json' },
  input: { method: 'GET', route: '/internal/jobs/:id/input', body: 'none' },
  log: { method: 'PUT', route: '/internal/jobs/:id/log', body: 'stream' },
  result: { method: 'PUT', route: '/internal/jobs/:id/result', body: 'report+stream' },
  fail: { method: 'POST', route: '/internal/jobs/:id/fail', body: 'json' },
  heartbeat: { method: 'POST', route: '/internal/jobs/:id/heartbeat', body: 'json' },
  release: { method: 'POST', route: '/internal/jobs/:id/release', body: 'json' },
  /** Records the warm-pool container that runs the job (before it starts). */
  container: { method: 'PUT', route: '/internal/jobs/:id/container', body: 'json' },
  /** The job a warm-pool container ran or runs (the enforcer, the orphan sweeper); 404 if none. */
  containerJob: { method: 'GET', route: '/internal/containers/:id', body: 'none' },
  engines: { method: 'PUT', route: '/internal/engines', body: 'json' },
} as const;

/** The name of one internal call. */
export type CallName = keyof typeof CALLS;

/** The path of a call for job `id` (the id is encoded, so no id can change the route). */
export function pathOf(call: CallName, id = ''): string {
  return CALLS[call].route.replace(':id', encodeURIComponent(id));
}

/** The start of a result call's body: the report as JSON, and the header value naming its length. */
export function encodeReport(containment: Containment | null | undefined): { head: Buffer; length: string } {
  const head = Buffer.from(JSON.stringify(containment ?? null), 'utf8');
  if (head.length > REPORT_LIMIT) throw new RangeError(`the containment report is ${head.length} bytes, more than ${REPORT_LIMIT}`);
  return { head, length: String(head.length) };
}

/** A byte count in a header (`reportLength`, `logLength`): a plain decimal of at most 10 digits. */
export const BYTE_COUNT = /^(0|[1-9][0-9]{0,9})$/;

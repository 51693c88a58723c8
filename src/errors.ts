/**
 * The error catalogue: every code an AppError may carry, once, with its HTTP status and who
 * can see it (`public`: a client of the public API may get it, so README's error table lists
 * it; otherwise only workers, the enforcer's API or the command line). Add a code here first:
 * the constructors take only catalogue keys, so a typo does not compile.
 */
export const ERRORS = {
  // Public API (and the internal one, which shares the shapes).
  INVALID_JOB_ID: { status: 400, public: true },
  INVALID_UPLOAD: { status: 400, public: true },
  MISSING_UPLOAD: { status: 400, public: true },
  UPLOAD_ABORTED: { status: 400, public: true },
  BAD_REQUEST: { status: 400, public: true },
  INVALID_PARAMETER: { status: 400, public: true },
  INVALID_ENGINES: { status: 400, public: true },
  INVALID_CALLBACK: { status: 400, public: true },
  INVALID_IDEMPOTENCY_KEY: { status: 400, public: true },
  INVALID_CURSOR: { status: 400, public: true },
  UNAUTHORIZED: { status: 401, public: true },
  FORBIDDEN: { status: 403, public: true },
  NOT_FOUND: { status: 404, public: true },
  UNKNOWN_ENGINE: { status: 404, public: true },
  JOB_NOT_FOUND: { status: 404, public: true },
  RESULT_MISSING: { status: 404, public: true },
  INPUT_MISSING: { status: 404, public: true },
  METHOD_NOT_ALLOWED: { status: 405, public: true },
  REQUEST_TIMEOUT: { status: 408, public: true },
  UPLOAD_TIMEOUT: { status: 408, public: true },
  JOB_NOT_FINISHED: { status: 409, public: true },
  JOB_FINISHED: { status: 409, public: true },
  IDEMPOTENCY_KEY_REUSED: { status: 409, public: true },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, public: true },
  BODY_TOO_LARGE: { status: 413, public: true },
  UPLOAD_TOO_LARGE: { status: 413, public: true },
  RATE_LIMITED: { status: 429, public: true },
  HEADERS_TOO_LARGE: { status: 431, public: true },
  INTERNAL_ERROR: { status: 500, public: true },
  NOT_IMPLEMENTED: { status: 501, public: true },
  DATABASE_UNAVAILABLE: { status: 503, public: true },
  BROKER_UNAVAILABLE: { status: 503, public: true },
  TOO_MANY_UPLOADS: { status: 503, public: true },
  OVERLOADED: { status: 503, public: true },
  // Internal API (workers, enforcer).
  INVALID_REQUEST: { status: 400, public: false },
  INVALID_JSON: { status: 400, public: false },
  INVALID_LEASE: { status: 400, public: false },
  JOB_BUSY: { status: 409, public: false },
  STALE_LEASE: { status: 409, public: false },
  CONTAINER_NOT_FOUND: { status: 404, public: false },
  REPORT_TOO_LARGE: { status: 413, public: false },
  // Enforcer and command line.
  ENFORCER_USAGE: { status: 400, public: false },
  ENFORCER_BAD_CONTAINER: { status: 400, public: false },
  CONFIG_INVALID: { status: 500, public: false },
} as const satisfies Record<string, { status: number; public: boolean }>;

/** A code from the catalogue. */
export type ErrorCode = keyof typeof ERRORS;

/** The codes of the catalogue whose status is `S`: a subclass only takes fitting codes. */
export type CodeWithStatus<S extends number> = { [K in ErrorCode]: (typeof ERRORS)[K]['status'] extends S ? K : never }[ErrorCode];

/**
 * An error that can reach a client: a catalogued code, the code's HTTP status and a message
 * fit for clients. Driver errors are wrapped at the boundary and kept as `cause`, never shown.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds after which the client may try again (sent as `Retry-After`). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfter = options?.retryAfter;
  }
}

/** A resource (job, engine, result) does not exist. */
export class NotFoundError extends AppError {
  constructor(code: CodeWithStatus<404>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The request is malformed. */
export class InvalidError extends AppError {
  constructor(code: CodeWithStatus<400>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The request conflicts with the current state (stale lease, job already finished). */
export class ConflictError extends AppError {
  constructor(code: CodeWithStatus<409>, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A dependency (database, broker, store) cannot serve the request right now. */
export class UnavailableError extends AppError {
  constructor(code: CodeWithStatus<503>, message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super(code, message, options);
  }
}

/** Missing or wrong credentials. */
export class UnauthorizedError extends AppError {
  constructor(message = 'a valid token is required') {
    super('UNAUTHORIZED', message);
  }
}

/** The caller is known but its role may not do this. */
export class ForbiddenError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

/** The upload is larger than the engine accepts. */
export class TooLargeError extends AppError {
  constructor(message: string) {
    super('UPLOAD_TOO_LARGE', message);
  }
}

/** The one way to refuse a malformed job id (routes and the file store alike). */
export function invalidJobId(id: string): InvalidError {
  return new InvalidError('INVALID_JOB_ID', `${JSON.stringify(id.slice(0, 40))} is not a job id (a positive integer)`);
}

/** One problem found while validating a configuration file. */
export interface ConfigProblem {
  file: string;
  pointer: string;
  message: string;
}

/** Configuration is invalid; carries every problem found, not only the first. */
export class ConfigError extends AppError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    super('CONFIG_INVALID', formatProblems(problems));
    this.problems = problems;
  }
}

function formatProblems(problems: ConfigProblem[]): string {
  const lines = problems.map((p) => `  ${p.file}: ${p.pointer || '/'}: ${p.message}`);
  return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** The client sent no body bytes for too long; the upload was abandoned. */
export class UploadTimeoutError extends AppError {
  constructor(message: string) {
    super('UPLOAD_TIMEOUT', message);
  }
}

/*
 * How a worker classifies what went wrong (never shown to clients): the frontend could not
 * be reached, or Docker or the run failed on our side. Either way the job is not at fault:
 * it is handed back, never failed.
 */

/** The frontend could not be reached or failed: retry later, the job is not at fault. */
export class FrontendUnavailable extends Error {}

/**
 * The frontend refused this worker's token (401): revoked, or not a worker token. Handled as
 * the frontend being away (the node takes no work and hands back what it holds) until it
 * is let in again.
 */
export class WorkerRefused extends FrontendUnavailable {}

/** The Docker daemon or the run was interrupted: not the engine's fault, hand the job back. */
export class InfrastructureError extends Error {}

/** The run was aborted (shutdown); the job goes back to the queue. */
export class RunAborted extends InfrastructureError {}

/** The Docker daemon went away during the run and lost how it ended: an outage, the attempt does not count. */
export class DaemonRestarted extends InfrastructureError {}

/**
 * The error catalogue. Every error that can reach a client is an AppError with a
 * SCREAMING_SNAKE code and an HTTP status; driver errors are wrapped at the boundary
 * and kept as `cause`, never shown to clients.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** A resource (job, engine, result) does not exist. */
export class NotFoundError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 404, message, options);
  }
}

/** The request is malformed. */
export class InvalidError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 400, message, options);
  }
}

/** The request conflicts with the current state (stale lease, job already finished). */
export class ConflictError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 409, message, options);
  }
}

/** A dependency (database, broker, store) cannot serve the request right now. */
export class UnavailableError extends AppError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, 503, message, options);
  }
}

/** Missing or wrong credentials. */
export class UnauthorizedError extends AppError {
  constructor(message = 'a valid token is required') {
    super('UNAUTHORIZED', 401, message);
  }
}

/** The upload is larger than the engine accepts. */
export class TooLargeError extends AppError {
  constructor(message: string) {
    super('UPLOAD_TOO_LARGE', 413, message);
  }
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
    super('CONFIG_INVALID', 500, formatProblems(problems));
    this.problems = problems;
  }
}

function formatProblems(problems: ConfigProblem[]): string {
  const lines = problems.map((p) => `  ${p.file}: ${p.pointer || '/'}: ${p.message}`);
  return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

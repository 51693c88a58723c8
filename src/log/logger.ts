import { pino, stdSerializers, stdTimeFunctions } from 'pino';

/** Log levels, least to most severe (`silent`: none); the configuration's `log.level`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One level's method: a message, or fields and a message (pino's order: fields first). */
export interface LogFn {
  (msg: string): void;
  (fields: object, msg?: string): void;
}

/**
 * The logger every module gets (pino-compatible): level methods, `child(bindings)` for a
 * logger whose every line carries `bindings` (a job's `jobid`, `engine`, `attempt`), and
 * `isLevelEnabled`.
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  /** Whether a line at `level` would be written (so a costly line is built only then). */
  isLevelEnabled(level: LogLevel): boolean;
}

/** The processes that log: the `name` field of each line. */
export type ProcessName = 'frontend' | 'menage' | 'enforcer' | 'docker-proxy' | 'cleanup';

/** Where lines go: stdout by default; tests pass a stream of their own. */
export interface LogDestination {
  write(line: string): unknown;
}

/**
 * A logger writing one JSON line per event: `time` (ISO 8601, UTC), `level` (its name),
 * `name` (the process), `pid`, `msg`, then the fields. Strings are JSON-escaped, so a
 * newline or an escape sequence in a file name or a header stays inside its line.
 * Writes to stdout are synchronous: a line logged just before an exit is not lost.
 */
export function createLogger(name: ProcessName, level: LogLevel = 'info', destination?: LogDestination): Logger {
  return pino({
    name, level,
    base: { pid: process.pid },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: stdSerializers.err },
  }, destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that writes nothing (library defaults, tests that do not read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The fields of every line about one attempt of a job. */
export interface JobFields {
  jobid: string;
  engine: string;
  attempt?: number | undefined;
}

/** A child logger for one job: every line it writes carries `jobid`, `engine` and `attempt`. */
export function jobLogger(log: Logger, job: JobFields): Logger {
  return log.child({ jobid: job.jobid, engine: job.engine, attempt: job.attempt ?? null });
}

import type { Logger } from '../log/logger.js';

/** A structured log sink: level, message, fields. */
export type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** The enforcer's Log over the shared logger (src/log): one JSON line per entry. */
export function loggerLog(logger: Logger): Log {
  return (level, message, fields = {}) => logger[level](fields, message);
}

/** A Log whose every entry also carries `fields` (a job's jobid, engine and attempt). */
export function withFields(log: Log, fields: Record<string, unknown>): Log {
  return (level, message, more = {}) => log(level, message, { ...fields, ...more });
}

/** The shared Logger interface over a Log, for shared middleware (debug and trace are dropped). */
export function asLogger(log: Log, bindings: Record<string, unknown> = {}): Logger {
  const at = (level: 'info' | 'warn' | 'error' | undefined) => (a: object | string, msg?: string): void => {
    if (level === undefined) return;
    if (typeof a === 'string') log(level, a, bindings);
    else log(level, msg ?? '', { ...bindings, ...(a as Record<string, unknown>) });
  };
  return {
    trace: at(undefined), debug: at(undefined), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('error'),
    child: (more) => asLogger(log, { ...bindings, ...more }),
    isLevelEnabled: (level) => level !== 'trace' && level !== 'debug' && level !== 'silent',
  };
}

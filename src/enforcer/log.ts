/** A structured log sink: level, message, fields. */
export type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** A Log writing one JSON line per entry to a stream. */
export function jsonLog(stream: NodeJS.WritableStream, component = 'enforcer'): Log {
  return (level, message, fields = {}) => {
    stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, component, message, ...fields })}\n`);
  };
}

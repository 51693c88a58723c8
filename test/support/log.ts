import { createLogger, type Logger, type ProcessName } from '../../src/log/logger.js';

/**
 * A real (pino) logger whose lines are pushed to `lines` as `<msg> <the JSON line>`: tests
 * match the message as before and can still see every field. MENAGERIE_TEST_VERBOSE prints them.
 */
export function memoryLog(lines: string[], name: ProcessName = 'frontend'): Logger {
  return createLogger(name, 'debug', {
    write(line: string) {
      const parsed = JSON.parse(line) as { msg?: string };
      lines.push(`${parsed.msg ?? ''} ${line.trimEnd()}`);
      if (process.env.MENAGERIE_TEST_VERBOSE) process.stdout.write(line);
    },
  });
}

import { dirname, resolve } from 'node:path';
import { checkSchema, compileSchema, deepFreeze, interpolateEnv, readJsonFile, throwIfProblems } from '../schema/validate.js';
import type { ConfigProblem } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';

/** WARN reports only; KILL applies each rule's action (or denies, in AuthZ mode). */
export type Mode = 'warn' | 'kill';

/** Chooses the mode for containers carrying a label (optionally with a value). */
export interface ModeOverride {
  readonly label: string;
  readonly value?: string;
  readonly mode: Mode;
}

/** Where a server listens: TCP host/port, or a unix socket path. */
export type Listen = { readonly host: string; readonly port: number } | { readonly socket: string };

/** The enforcer's configuration, validated and frozen. */
export interface EnforcerConfig {
  readonly file: string;
  readonly rulesFile: string;
  readonly docker: { readonly socketPath: string };
  readonly mode: { readonly default: Mode; readonly overrides: readonly ModeOverride[] };
  readonly stopOnFirstViolation: boolean;
  readonly periodic?: { readonly intervalSeconds: number; readonly immediate: boolean };
  readonly events: boolean;
  readonly authz?: { readonly listen: Listen; readonly denyPrivilegedExec: boolean };
  readonly api?: { readonly listen: Listen; readonly token?: string };
  readonly stats: { readonly concurrency: number; readonly timeoutSeconds: number };
  readonly actionTimeoutSeconds: number;
  readonly history: number;
  readonly triggers: { readonly log: boolean; readonly webhooks: readonly { readonly url: string; readonly timeoutMs: number; readonly token?: string }[] };
  readonly frontend?: { readonly url: string; readonly internalToken?: string; readonly timeoutMs: number };
  /** Its JSON log on stdout: the lowest level written (docs/observability.md). */
  readonly log: { readonly level: LogLevel };
}

const MODE = { enum: ['warn', 'kill'] };
const LISTEN = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    socket: { type: 'string', pattern: '^/' },
  },
};

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['rulesFile'],
  properties: {
    $comment: { type: 'string' },
    rulesFile: { type: 'string', minLength: 1 },
    docker: { type: 'object', additionalProperties: false, properties: { socketPath: { type: 'string', default: '/var/run/docker.sock' } }, default: {} },
    mode: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        default: { ...MODE, default: 'warn' },
        overrides: {
          type: 'array',
          default: [],
          items: { type: 'object', additionalProperties: false, required: ['label', 'mode'], properties: { label: { type: 'string', minLength: 1 }, value: { type: 'string' }, mode: MODE } },
        },
      },
    },
    stopOnFirstViolation: { type: 'boolean', default: false },
    periodic: {
      type: 'object',
      additionalProperties: false,
      required: ['intervalSeconds'],
      properties: { intervalSeconds: { type: 'number', minimum: 0.1 }, immediate: { type: 'boolean', default: true } },
    },
    events: { type: 'boolean', default: false },
    authz: { type: 'object', additionalProperties: false, required: ['listen'], properties: { listen: LISTEN, denyPrivilegedExec: { type: 'boolean', default: true } } },
    api: { type: 'object', additionalProperties: false, required: ['listen'], properties: { listen: LISTEN, token: { type: 'string', minLength: 16 } } },
    stats: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4 }, timeoutSeconds: { type: 'number', exclusiveMinimum: 0, default: 10 } },
    },
    actionTimeoutSeconds: { type: 'number', exclusiveMinimum: 0, default: 30 },
    history: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 },
    log: { type: 'object', additionalProperties: false, default: {}, properties: { level: { enum: [...LOG_LEVELS], default: 'info' } } },
    triggers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        log: { type: 'boolean', default: true },
        webhooks: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['url'],
            properties: { url: { type: 'string', pattern: '^https?://' }, timeoutMs: { type: 'integer', minimum: 1, default: 3000 }, token: { type: 'string' } },
          },
        },
      },
    },
    frontend: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: { url: { type: 'string', pattern: '^https?://' }, internalToken: { type: 'string' }, timeoutMs: { type: 'integer', minimum: 1, default: 3000 } },
    },
  },
} as const;

/** Reads and validates an enforcer config file; throws ConfigError listing every problem. */
export function loadEnforcerConfig(file: string, env: NodeJS.ProcessEnv): EnforcerConfig {
  const problems: ConfigProblem[] = [];
  const raw = interpolateEnv(readJsonFile(file, problems), env, file, problems);
  throwIfProblems(problems);
  return parseEnforcerConfig(raw, file);
}

/** Validates an already-parsed config; relative paths are resolved against the file's folder. */
export function parseEnforcerConfig(raw: unknown, file: string): EnforcerConfig {
  const problems: ConfigProblem[] = [];
  const data = structuredClone(raw) as Record<string, unknown>;
  checkSchema(compileSchema(schema), data, file, problems);
  throwIfProblems(problems);
  const report = (pointer: string, message: string) => problems.push({ file, pointer, message });
  for (const key of ['api', 'authz'] as const) {
    const section = data[key] as { listen: Record<string, unknown>; token?: string } | undefined;
    if (section) checkListen(section.listen, `/${key}/listen`, report);
  }
  const api = data.api as { listen: { host?: string }; token?: string } | undefined;
  if (api?.listen.host !== undefined && !isLoopback(api.listen.host) && api.token === undefined) {
    report('/api', 'an API bound beyond loopback needs a token');
  }
  if (!data.periodic && !data.events && !data.authz) report('', 'enable at least one of periodic, events, authz');
  throwIfProblems(problems);
  return deepFreeze({ ...data, file, rulesFile: resolve(dirname(file), data.rulesFile as string) } as unknown as EnforcerConfig);
}

function checkListen(l: Record<string, unknown>, ptr: string, report: (p: string, m: string) => void): void {
  const tcp = l.host !== undefined || l.port !== undefined;
  if (tcp === (l.socket !== undefined)) report(ptr, 'give either host and port, or socket');
  else if (tcp && (l.host === undefined || l.port === undefined)) report(ptr, 'give both host and port');
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

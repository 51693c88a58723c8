import { accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigProblem } from '../errors.js';
import { loadEngines, type Engine } from '../engines/engines.js';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { checkSchema, compileSchema, deepFreeze, interpolateEnv, readJsonFile, throwIfProblems } from '../schema/validate.js';

/** The global configuration, validated and frozen. */
export interface Config {
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * Where the internal API (workers, enforcer) listens: never the public port. With `cert`
   * and `key` (PEM files) it serves HTTPS, for worker nodes on other hosts.
   */
  readonly internalListen: { readonly host: string; readonly port: number; readonly cert?: string; readonly key?: string };
  readonly mysql: {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    readonly database: string;
    readonly socketPath?: string;
    readonly connectionLimit: number;
  };
  /** The broker; `ca`: PEM CA file an amqps:// broker's certificate must chain to. */
  readonly rabbitmq: { readonly url: string; readonly prefix: string; readonly ca?: string };
  readonly store: { readonly dir: string };
  /**
   * The shared secret of the internal API (frontend, and the menage and enforcer beside it).
   * '' when absent: a worker node's configuration has only its own `menage.token`.
   */
  readonly internalToken: string;
  readonly enginesFile: string;
  readonly jobs: { readonly maxAttempts: number; readonly reapGraceSeconds: number; readonly leaseSeconds: number; readonly infrastructureTimeoutSeconds: number;
    /** How long a frontend reload waits for a menage to serve a new engine before refusing. */
    readonly reloadWaitSeconds: number };
  readonly retention: { readonly days: number };
  /**
   * Who may call the public API: `tokens` (API tokens, hashed with `key`) or `open` (anyone,
   * as the original); uploads per token per minute, with a burst.
   */
  readonly auth: { readonly mode: 'tokens' | 'open'; readonly key?: string; readonly uploadsPerMinute: number; readonly uploadBurst: number };
  /** Bounds on public uploads: bodies received at once, and seconds a body may send nothing. */
  readonly uploads: { readonly maxConcurrent: number; readonly idleTimeoutSeconds: number };
  readonly menage: {
    readonly frontendUrl: string;
    readonly dockerSocket: string;
    readonly engines: readonly string[];
    readonly shutdownGraceSeconds: number;
    /** Enforcer rules every engine's container settings must pass before menage starts. */
    readonly policyRules: string;
    /** How often menage reports its engines' image digests and busy slots to the frontend. */
    readonly statusIntervalSeconds: number;
    /** This node's own worker API token (`menagerie token create --role worker`); default internalToken. */
    readonly token?: string;
    /** This node's name, on its leases and containers; default hostname:pid. */
    readonly node?: string;
    /** PEM CA file an https:// frontendUrl's certificate must chain to. */
    readonly frontendCa?: string;
    /** menage's operations listener: /metrics, /healthz, /readyz (docs/observability.md). */
    readonly listen: { readonly host: string; readonly port: number };
    /** When set, menage's /metrics needs `Authorization: Bearer <metricsToken>`. */
    readonly metricsToken?: string;
  };
  /**
   * Webhooks: callback URLs must start with one of `allowedPrefixes` (none: callbacks are
   * refused); deliveries are signed with `secret` and tried `maxAttempts` times with backoff.
   */
  readonly webhooks: {
    readonly allowedPrefixes: readonly string[];
    readonly secret?: string;
    readonly maxAttempts: number;
    readonly timeoutSeconds: number;
    /** The first retry's delay; each later one doubles (capped at an hour). */
    readonly firstRetrySeconds: number;
  };
  readonly engines: readonly Engine[];
  /**
   * The web console at /console/ (on unless `enabled` is false) and where its policy page
   * reads the enforcer's API (`enforcerUrl`, with `enforcerToken` if that API has one).
   */
  readonly console: { readonly enabled: boolean; readonly enforcerUrl?: string; readonly enforcerToken?: string };
  /** The Docker API proxy (`menagerie docker-proxy`): where it listens, the socket behind it. */
  readonly dockerProxy: {
    readonly listen: { readonly host: string; readonly port: number; readonly socket?: string };
    readonly dockerSocket: string;
    readonly maxJsonBytes: number;
    readonly registryAuth?: { readonly serveraddress: string; readonly username: string; readonly password: string };
  };
  /** The services' JSON logs on stdout (docs/observability.md): events at `level` and above. */
  readonly log: { readonly level: LogLevel };
}

/** A listener's address: `host` and `port` with their defaults, plus `extra` properties. */
function listenSchema(host: string, port: number, extra: Record<string, unknown> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      host: { type: 'string', minLength: 1, default: host },
      port: { type: 'integer', minimum: 0, maximum: 65535, default: port },
      ...extra,
    },
  } as const;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['rabbitmq'],
  properties: {
    $comment: { type: 'string' },
    listen: listenSchema('0.0.0.0', 8100),
    internalListen: {
      ...listenSchema('127.0.0.1', 8101, { cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } }),
      dependencies: { cert: ['key'], key: ['cert'] },
    },
    mysql: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 1, maximum: 65535, default: 3306 },
        user: { type: 'string', minLength: 1, default: 'menagerie' },
        password: { type: 'string', default: '' },
        database: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$', default: 'menagerie' },
        socketPath: { type: 'string', minLength: 1 },
        connectionLimit: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
      },
    },
    rabbitmq: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^amqps?://' },
        prefix: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$', default: 'menagerie' },
        ca: { type: 'string', minLength: 1 },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { dir: { type: 'string', minLength: 1, default: '/var/lib/menagerie/store' } },
    },
    internalToken: { type: 'string', minLength: 16 },
    engines: { type: 'string', minLength: 1, default: 'engines.json' },
    jobs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100, default: 3 },
        reapGraceSeconds: { type: 'integer', minimum: 1, default: 60 },
        leaseSeconds: { type: 'integer', minimum: 3, maximum: 3600, default: 30 },
        infrastructureTimeoutSeconds: { type: 'integer', minimum: 1, default: 1800 },
        reloadWaitSeconds: { type: 'integer', minimum: 0, maximum: 86400, default: 900 },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { days: { type: 'number', exclusiveMinimum: 0, default: 30 } },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: { enum: ['tokens', 'open'], default: 'tokens' },
        key: { type: 'string', minLength: 32 },
        uploadsPerMinute: { type: 'integer', minimum: 1, maximum: 1000000, default: 600 },
        uploadBurst: { type: 'integer', minimum: 1, maximum: 1000000, default: 200 },
      },
    },
    uploads: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxConcurrent: { type: 'integer', minimum: 1, maximum: 10000, default: 16 },
        idleTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
      },
    },
    menage: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        frontendUrl: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:8101' },
        dockerSocket: { type: 'string', minLength: 1, default: '/var/run/docker.sock' },
        engines: { type: 'array', items: { type: 'string' }, uniqueItems: true, default: [] },
        shutdownGraceSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
        policyRules: { type: 'string', minLength: 1 },
        statusIntervalSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 15 },
        token: { type: 'string', minLength: 16 },
        node: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,100}$' },
        frontendCa: { type: 'string', minLength: 1 },
        listen: listenSchema('127.0.0.1', 8102),
        metricsToken: { type: 'string', minLength: 16 },
      },
    },
    webhooks: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        allowedPrefixes: { type: 'array', items: { type: 'string', pattern: '^https?://[^/?#]+/' }, uniqueItems: true, default: [] },
        secret: { type: 'string', minLength: 32 },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 300, default: 10 },
        firstRetrySeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 5 },
      },
    },
    console: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        enforcerUrl: { type: 'string', pattern: '^https?://' },
        enforcerToken: { type: 'string', minLength: 16 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        level: { enum: [...LOG_LEVELS], default: 'info' },
      },
    },
    dockerProxy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        listen: listenSchema('127.0.0.1', 2375, { socket: { type: 'string', minLength: 1 } }),
        dockerSocket: { type: 'string', minLength: 1, default: '/var/run/docker.sock' },
        maxJsonBytes: { type: 'integer', minimum: 1024, maximum: 67108864, default: 4194304 },
        // Credentials the proxy adds to engine image pulls (menage holds none); an empty
        // username pulls without (an open registry).
        registryAuth: {
          type: 'object',
          additionalProperties: false,
          required: ['serveraddress'],
          properties: {
            serveraddress: { type: 'string', minLength: 1 },
            username: { type: 'string', default: '' },
            password: { type: 'string', default: '' },
          },
        },
      },
    },
  },
} as const;

const validate = compileSchema(schema, { coerce: true });

/** The enforcer's shipped rules for engine containers, from the installed package. */
const DEFAULT_POLICY = fileURLToPath(new URL('../../../enforcer/rules/engines.json', import.meta.url));

/** What the loading process serves: only the frontend reads the internal listener's key pair. */
export interface LoadOptions {
  /**
   * Check that `internalListen.cert` and `.key` are readable (default true). The services beside
   * the frontend (menage, docker-proxy, cleanup, the token command) share its configuration
   * file but never get its key: on a scale-out frontend host it is mounted into the frontend only.
   */
  internalTls?: boolean;
}

/**
 * Loads the global configuration and the engines file it names, reporting every problem
 * in both files at once. `${NAME}` references are filled from `env` before validation.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  const problems: ConfigProblem[] = [];
  const raw = interpolateEnv(readJsonFile(file, problems), env, file, problems);
  if (raw === undefined) throwIfProblems(problems);
  checkSchema(validate, raw, file, problems);
  const data = raw as Record<string, unknown> & { engines?: string; menage?: { engines?: string[]; policyRules?: string } };
  const enginesFile = resolve(dirname(resolve(file)), typeof data.engines === 'string' ? data.engines : 'engines.json');
  const engines = loadEngines(enginesFile, env, problems);
  for (const [i, name] of (data.menage?.engines ?? []).entries()) {
    if (!engines.some((e) => e.name === name)) {
      problems.push({ file, pointer: `/menage/engines/${i}`, message: `engine "${name}" is not in ${enginesFile}` });
    }
  }
  const files = resolveTlsFiles(data, file, problems, opts.internalTls ?? true);
  throwIfProblems(problems);
  const { engines: _path, ...rest } = data;
  const menage = { ...(rest.menage as object), ...files.menage, policyRules: resolve(dirname(resolve(file)), data.menage?.policyRules ?? DEFAULT_POLICY) };
  return deepFreeze({ internalToken: '', ...rest, ...files.top, menage, enginesFile, engines } as unknown as Config);
}

/** The TLS files the configuration names, resolved against its folder; unreadable ones are problems. */
function resolveTlsFiles(data: Record<string, unknown>, file: string, problems: ConfigProblem[], internalTls: boolean) {
  const section = (name: string): Record<string, unknown> => (data[name] ?? {}) as Record<string, unknown>;
  const path = (name: string, key: string): string | undefined => {
    const value = section(name)[key];
    if (typeof value !== 'string') return undefined;
    const full = resolve(dirname(resolve(file)), value);
    if (name === 'internalListen' && !internalTls) return full;
    try {
      accessSync(full, constants.R_OK);
    } catch {
      problems.push({ file, pointer: `/${name}/${key}`, message: `cannot read ${full}` });
    }
    return full;
  };
  const only = (o: Record<string, string | undefined>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const [cert, key, ca, frontendCa] = [path('internalListen', 'cert'), path('internalListen', 'key'), path('rabbitmq', 'ca'), path('menage', 'frontendCa')];
  const amqps = String(section('rabbitmq').url ?? '').startsWith('amqps://');
  if (ca && !amqps) problems.push({ file, pointer: '/rabbitmq/ca', message: 'a CA is set but rabbitmq.url is not amqps://' });
  if (frontendCa && !String(section('menage').frontendUrl ?? '').startsWith('https://')) {
    problems.push({ file, pointer: '/menage/frontendCa', message: 'a CA is set but menage.frontendUrl is not https://' });
  }
  return {
    top: {
      ...(cert ? { internalListen: { ...section('internalListen'), ...only({ cert, key }) } } : {}),
      ...(ca ? { rabbitmq: { ...section('rabbitmq'), ca } } : {}),
    },
    menage: only({ frontendCa }),
  };
}

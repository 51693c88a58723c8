import type { ConfigProblem } from '../errors.js';
import { checkSchema, compileSchema, interpolateEnv, readJsonFile } from '../schema/validate.js';
import { parseRunflags, type FlagSettings } from './runflags.js';
import { dirname } from 'node:path';
import { loadSeccomp, type SeccompProfile } from './seccomp.js';
import { settingProblem, type CheckedSetting } from './limits.js';
import { parseSize } from './size.js';

/** Containment applied to every container of an engine (see docs in README). */
export interface Containment {
  readonly network: 'none';
  readonly readonly: boolean;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
  readonly pids: number;
  /** Writable tmpfs mounts: path → mount options (always size-capped). */
  readonly tmpfs: Readonly<Record<string, string>>;
  readonly apparmor?: string;
  /** A profile read from a file at start-up; absent means Docker's default profile. */
  readonly seccomp?: SeccompProfile;
  readonly runtime?: string;
  readonly resultLimit: number;
  readonly logLimit: number;
  /** Caps the input volume (a tmpfs-backed volume held for the job); absent: an uncapped anonymous volume. */
  readonly volumeBytes?: number;
  /** Named volumes mounted read-only: path in the container → volume name (e.g. yara's rules at /rules). */
  readonly volumes?: Readonly<Record<string, string>>;
}

/** An engine, normalised from engines.json. */
export interface Engine {
  readonly name: string;
  readonly workers: number;
  readonly image: string;
  readonly cmd: readonly string[];
  readonly mountpoint: string;
  readonly sizelimit: number;
  readonly inputfilename: string;
  readonly user: string;
  readonly timeoutMs: number;
  readonly containment: Containment;
  /**
   * Whether a file this engine already analysed successfully on the same image is answered
   * from the earlier result (engines.json `cache`, default false; loadEngines always sets it).
   */
  readonly cache?: boolean;
  /**
   * Containers menage keeps created (hardened, never started) for this engine, each used by
   * one job and then removed (engines.json `warm`, default 0: each job creates its own).
   */
  readonly warm?: number;
}

const SIZE = { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?[bkmgBKMG]?$' }] };

const engineSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'image', 'cmd', 'mountpoint', 'sizelimit', 'inputfilename', 'timeout'],
  properties: {
    $comment: { type: 'string' },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' },
    workers: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
    image: { type: 'string', minLength: 1, pattern: '^[^\\s]+$' },
    runflags: { type: 'string', default: '' },
    cmd: {
      oneOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string' } },
      ],
    },
    mountpoint: { type: 'string', pattern: '^/[A-Za-z0-9._-][A-Za-z0-9._/-]*$', not: { pattern: '(^|/)\\.\\.?(/|$)' } },
    sizelimit: { type: 'integer', minimum: 1 },
    inputfilename: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$', not: { enum: ['result'] } },
    user: { oneOf: [{ type: 'string', pattern: '^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$' }, { type: 'integer', minimum: 0 }] },
    timeout: { type: 'number', exclusiveMinimum: 0 },
    memory: SIZE,
    // Bounds are not here: limits.ts checks these for fields and runflags alike.
    cpus: { type: 'number', exclusiveMinimum: 0 },
    pids: { type: 'integer', minimum: 1 },
    tmpfs: { type: 'object', additionalProperties: SIZE, propertyNames: { pattern: '^/[A-Za-z0-9._/-]+$' } },
    network: { enum: ['none'] },
    readonly: { type: 'boolean' },
    apparmor: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    seccomp: { type: 'string', minLength: 1 },
    runtime: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    resultlimit: SIZE,
    loglimit: SIZE,
    volumesize: SIZE,
    cache: { type: 'boolean', default: false },
    warm: { type: 'integer', minimum: 0, maximum: 16, default: 0 },
    // Read-only named volumes (docs/containment.md): path → volume name.
    volumes: {
      type: 'object', maxProperties: 8,
      propertyNames: { pattern: '^/[A-Za-z0-9._-][A-Za-z0-9._/-]*$', not: { pattern: '(^|/)\\.\\.?(/|$)' } },
      additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' },
    },
  },
} as const;

const fileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['engines'],
  properties: { $comment: { type: 'string' }, engines: { type: 'array', items: engineSchema } },
} as const;

const validate = compileSchema(fileSchema);

/** Defaults every engine container gets unless its entry says otherwise. */
export const DEFAULTS = {
  user: '65534:65534',
  memory: '512m',
  cpus: 1,
  pids: 128,
  tmpfsSize: '64m',
  resultlimit: '64m',
  loglimit: '64k',
} as const;

type RawEngine = Record<string, unknown> & { name: string; runflags: string; cmd: string | string[] };

/** Reads and validates engines.json; appends every problem to `problems`. */
export function loadEngines(file: string, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Engine[] {
  const raw = interpolateEnv(readJsonFile(file, problems), env, file, problems);
  if (raw === undefined) return [];
  const before = problems.length;
  checkSchema(validate, raw, file, problems);
  const entries = (raw as { engines?: unknown }).engines;
  if (!Array.isArray(entries)) return [];
  // Entries the schema refused are not normalised, but every other entry still is, so that
  // runflags and profile problems are reported in the same run as schema problems.
  const broken = (i: number): boolean => problems.slice(before).some((p) => p.pointer === `/engines/${i}` || p.pointer.startsWith(`/engines/${i}/`));
  if (problems.slice(before).some((p) => p.pointer === '' || p.pointer === '/engines')) return [];
  const engines: Engine[] = [];
  (entries as RawEngine[]).forEach((entry, i) => {
    if (broken(i)) return;
    const pointer = `/engines/${i}`;
    if (entries.findIndex((e) => e.name === entry.name) !== i) {
      problems.push({ file, pointer: `${pointer}/name`, message: `duplicate engine name "${entry.name}"` });
    }
    const engine = normaliseEngine(entry, (p, message) => problems.push({ file, pointer: `${pointer}${p}`, message }), dirname(file));
    if (engine) engines.push(engine);
  });
  return engines;
}

type Report = (pointer: string, message: string) => void;

/** Fields that pass the same checks as their runflags (limits.ts). */
const CHECKED: readonly CheckedSetting[] = ['apparmor', 'seccomp', 'user', 'pids', 'memory', 'cpus'];

/** Merges an entry's explicit fields with its runflags and the defaults; files resolve against `baseDir`. */
export function normaliseEngine(e: RawEngine, report: Report, baseDir = process.cwd()): Engine | undefined {
  const { settings, errors } = parseRunflags(e.runflags);
  for (const msg of errors) report('/runflags', `engine "${e.name}": ${msg}`);
  for (const key of CHECKED) {
    const problem = e[key] === undefined ? undefined : settingProblem(key, e[key]);
    if (problem) report(`/${key}`, `engine "${e.name}": ${problem}`);
  }
  const pick = <K extends keyof FlagSettings>(key: K, field: string): unknown => {
    const explicit = e[field];
    const flag = settings[key];
    if (explicit !== undefined && flag !== undefined && JSON.stringify(explicit) !== JSON.stringify(flag)) {
      report(`/${field}`, `engine "${e.name}": "${field}" disagrees with runflags (${JSON.stringify(flag)})`);
    }
    return explicit ?? flag;
  };
  const size = (value: unknown, fallback: string, field: string, quiet = false): number => {
    const n = parseSize(value ?? fallback);
    if (n === undefined && !quiet) report(`/${field}`, `engine "${e.name}": cannot read size ${JSON.stringify(value)}`);
    return n ?? 0;
  };
  const tmpfs: Record<string, string> = {};
  const rawTmpfs = { ...(settings.tmpfs ?? {}), ...((e.tmpfs as Record<string, unknown> | undefined) ?? {}) };
  for (const [path, s] of Object.entries(rawTmpfs)) {
    tmpfs[path] = `rw,noexec,nosuid,nodev,size=${size(s === '' ? undefined : s, DEFAULTS.tmpfsSize, 'tmpfs')}`;
  }
  const user = pick('user', 'user') ?? DEFAULTS.user;
  const seccompName = pick('seccomp', 'seccomp');
  const seccomp = typeof seccompName === 'string' && !settingProblem('seccomp', seccompName)
    ? loadSeccomp(seccompName, baseDir, (m) => report('/seccomp', `engine "${e.name}": ${m}`)) : undefined;
  const mountpoint = (e.mountpoint as string).replace(/\/+$/, '') || '/';
  for (const path of Object.keys(tmpfs)) {
    const p = path.replace(/\/+$/, '');
    if (p === mountpoint || mountpoint.startsWith(`${p}/`) || p === '') {
      report('/tmpfs', `engine "${e.name}": tmpfs ${path} would hide the input volume at ${mountpoint}`);
    }
  }
  const volumes: Record<string, string> = {};
  for (const [path, name] of Object.entries((e.volumes as Record<string, string> | undefined) ?? {})) {
    const p = path.replace(/\/+$/, '');
    const clash = [mountpoint, ...Object.keys(tmpfs).map((t) => t.replace(/\/+$/, ''))].find((m) => m === p || m.startsWith(`${p}/`) || p.startsWith(`${m}/`));
    if (clash !== undefined) report('/volumes', `engine "${e.name}": volume ${name} at ${path} would overlap ${clash}`);
    else volumes[p] = name;
  }
  const containment: Containment = {
    network: 'none',
    readonly: (pick('readonly', 'readonly') as boolean | undefined) ?? true,
    memoryBytes: size(pick('memory', 'memory'), DEFAULTS.memory, 'memory', true),
    nanoCpus: Math.round(((pick('cpus', 'cpus') as number | undefined) ?? DEFAULTS.cpus) * 1e9),
    pids: (pick('pids', 'pids') as number | undefined) ?? DEFAULTS.pids,
    tmpfs,
    ...optional('apparmor', pick('apparmor', 'apparmor')),
    ...(seccomp && seccomp !== 'default' ? { seccomp } : {}),
    ...optional('runtime', pick('runtime', 'runtime')),
    resultLimit: size(e.resultlimit, DEFAULTS.resultlimit, 'resultlimit'),
    logLimit: size(e.loglimit, DEFAULTS.loglimit, 'loglimit'),
    ...(e.volumesize !== undefined ? { volumeBytes: size(e.volumesize, '0', 'volumesize') } : {}),
    ...(Object.keys(volumes).length ? { volumes } : {}),
  };
  pick('network', 'network');
  // A capped volume is made per job, with the job's labels: nothing of it can be made ahead.
  if (e.warm && e.volumesize !== undefined) report('/warm', `engine "${e.name}": "warm" cannot be used with "volumesize" (the capped volume is made for each job)`);
  return {
    name: e.name,
    workers: e.workers as number,
    image: e.image as string,
    cmd: typeof e.cmd === 'string' ? e.cmd.split(/\s+/).filter(Boolean) : e.cmd,
    mountpoint,
    sizelimit: e.sizelimit as number,
    inputfilename: e.inputfilename as string,
    user: String(user),
    timeoutMs: Math.round((e.timeout as number) * 1000),
    containment,
    cache: e.cache === true,
    warm: (e.warm as number | undefined) ?? 0,
  };
}

function optional<K extends string>(key: K, value: unknown): { [P in K]?: string } {
  return typeof value === 'string' ? ({ [key]: value } as { [P in K]: string }) : {};
}

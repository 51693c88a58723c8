import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { checkSchema, deepFreeze, throwIfProblems } from '../schema/validate.js';
import type { ConfigProblem } from '../errors.js';
import { compileCondition, conditionSchema, type Condition, type Predicate } from './conditions.js';
import { compileExemptions, compileWhitelist, exemptionSchema, whitelistSchema, type Exemption, type WhitelistEntry } from './exemptions.js';

/** What to do with a container that breaks a rule (in KILL mode; WARN mode only reports). */
export type RuleAction =
  | { readonly type: 'warn' }
  | { readonly type: 'stop'; readonly timeout: number }
  | { readonly type: 'kill'; readonly signal: string };

/** What an evaluation error counts as: fail-closed = a violation, fail-open = no violation. */
export type ErrorPolicy = 'fail-open' | 'fail-closed';

/** One loaded rule. */
export interface Rule {
  readonly name: string;
  readonly description: string;
  readonly action: RuleAction;
  /** Consecutive samples the condition must hold on a running container before it counts. */
  readonly samples: number;
  readonly onError: ErrorPolicy;
  readonly usesMetrics: boolean;
  /** True when the container breaks the rule. */
  readonly violated: Predicate;
  readonly exempt: readonly Exemption[];
  readonly source: Readonly<Record<string, unknown>>;
}

/** A loaded, validated, frozen rule set. */
export interface RuleSet {
  readonly file: string;
  /** sha256 of the file's bytes, shown in /config so operators can tell what is loaded. */
  readonly hash: string;
  readonly rules: readonly Rule[];
  readonly exempt: readonly Exemption[];
  readonly whitelist: readonly WhitelistEntry[];
  readonly usesMetrics: boolean;
}

const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' };
const ACTION = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { const: 'warn' } } },
    { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { const: 'stop' }, timeout: { type: 'integer', minimum: 0, maximum: 600 } } },
    { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { const: 'kill' }, signal: { type: 'string', pattern: '^SIG[A-Z0-9]+$' } } },
  ],
};
const POLICY = { enum: ['fail-open', 'fail-closed'] };

const ruleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  oneOf: [{ required: ['violation'] }, { required: ['require'] }],
  properties: {
    $comment: { type: 'string' },
    name: NAME,
    description: { type: 'string' },
    violation: { $ref: 'condition' },
    require: { $ref: 'condition' },
    action: { ...ACTION, default: { type: 'kill' } },
    samples: { type: 'integer', minimum: 1, maximum: 1000, default: 1 },
    onError: POLICY,
    exempt: { type: 'array', items: exemptionSchema, default: [] },
  },
};

const fileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: {
    $comment: { type: 'string' },
    onError: { ...POLICY, default: 'fail-closed' },
    exempt: { type: 'array', items: exemptionSchema, default: [] },
    whitelist: { type: 'array', items: whitelistSchema, default: [] },
    rules: { type: 'array', items: ruleSchema },
  },
};

function compileFileSchema() {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false });
  ajv.addSchema(conditionSchema);
  return ajv.compile(fileSchema);
}

type RawRule = { name: string; description?: string; violation?: Condition; require?: Condition; action: RuleAction; samples: number; onError?: ErrorPolicy; exempt: unknown[] };
type RawFile = { onError: ErrorPolicy; exempt: unknown[]; whitelist: unknown[]; rules: RawRule[] };

/** Reads a rules file; throws ConfigError listing every problem in it. */
export function loadRules(file: string): RuleSet {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    return throwOne(file, `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return throwOne(file, `not valid JSON: ${(err as Error).message}`);
  }
  return parseRules(raw, file, createHash('sha256').update(bytes).digest('hex'));
}

/** Validates and compiles rules already parsed from JSON; throws ConfigError listing every problem. */
export function parseRules(raw: unknown, file = '<rules>', hash?: string): RuleSet {
  const problems: ConfigProblem[] = [];
  const data = structuredClone(raw);
  checkSchema(compileFileSchema(), data, file, problems);
  throwIfProblems(problems);
  const f = data as RawFile;
  const report = (pointer: string, message: string) => problems.push({ file, pointer, message });
  const names = f.rules.map((r) => r.name);
  const rules = f.rules.map((r, i) => compileRule(r, `/rules/${i}`, f.onError, names, report));
  const ruleSet: RuleSet = {
    file,
    hash: hash ?? createHash('sha256').update(JSON.stringify(raw)).digest('hex'),
    rules,
    exempt: compileExemptions(f.exempt, '/exempt', report),
    whitelist: compileWhitelist(f.whitelist, '/whitelist', names, report),
    usesMetrics: rules.some((r) => r.usesMetrics),
  };
  throwIfProblems(problems);
  return deepFreeze(ruleSet);
}

function compileRule(r: RawRule, ptr: string, onError: ErrorPolicy, names: string[], report: (p: string, m: string) => void): Rule {
  if (names.indexOf(r.name) !== Number(ptr.split('/').pop())) report(`${ptr}/name`, `duplicate rule name "${r.name}"`);
  const cond = r.require ?? r.violation;
  const predicate = compileCondition(cond as Condition, `${ptr}/${r.require ? 'require' : 'violation'}`, report);
  const violated: Predicate = r.require ? (s) => !predicate(s) : predicate;
  return {
    name: r.name,
    description: r.description ?? `breaks rule ${r.name}`,
    action: withDefaults(r.action),
    samples: r.samples,
    onError: r.onError ?? onError,
    usesMetrics: JSON.stringify(cond).includes('"metrics.'),
    violated,
    exempt: compileExemptions(r.exempt, `${ptr}/exempt`, report),
    source: r as unknown as Record<string, unknown>,
  };
}

function withDefaults(a: RuleAction): RuleAction {
  if (a.type === 'stop') return { type: 'stop', timeout: a.timeout ?? 10 };
  if (a.type === 'kill') return { type: 'kill', signal: a.signal ?? 'SIGKILL' };
  return a;
}

function throwOne(file: string, message: string): never {
  throwIfProblems([{ file, pointer: '', message }]);
  throw new Error('unreachable');
}

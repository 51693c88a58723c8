import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigError, type ConfigProblem } from '../errors.js';

/** Reads a JSON file; problems (unreadable, not JSON) are reported, not thrown. */
export function readJsonFile(file: string, problems: ConfigProblem[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ file, pointer: '', message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    problems.push({ file, pointer: '', message: `not valid JSON: ${(err as Error).message}` });
    return undefined;
  }
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string value with the environment's
 * value, so secrets, registry hosts and uids need not be written into the file.
 */
export function interpolateEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  file: string,
  problems: ConfigProblem[],
  pointer = '',
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({ file, pointer, message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => interpolateEnv(v, env, file, problems, `${pointer}/${i}`));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = interpolateEnv(v, env, file, problems, `${pointer}/${escapePointer(k)}`);
    }
    return out;
  }
  return value;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Compiles a JSON schema with every error collected and defaults filled in. With `coerce`,
 * strings become the numbers or booleans the schema wants (values filled from `${VAR}`).
 */
export function compileSchema(schema: object, options: { coerce?: boolean } = {}): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, coerceTypes: options.coerce ?? false });
  return ajv.compile(schema);
}

/** Runs a compiled schema and turns its errors into problems for `file`. */
export function checkSchema(validate: ValidateFunction, data: unknown, file: string, problems: ConfigProblem[]): void {
  if (validate(data)) return;
  for (const e of validate.errors ?? []) problems.push({ file, pointer: e.instancePath, message: describe(e) });
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    return `unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (e.keyword === 'required') return `missing required property "${(e.params as { missingProperty: string }).missingProperty}"`;
  if (e.keyword === 'enum') return `${e.message ?? 'invalid'}: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  return e.message ?? 'invalid';
}

/** Throws a ConfigError listing every problem, if there is any. */
export function throwIfProblems(problems: ConfigProblem[]): void {
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Deep-freezes a configuration object so nothing can change it after start-up. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

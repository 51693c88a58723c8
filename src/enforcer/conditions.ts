import { elementField, subjectField, type FieldDef, type Kind } from './fields.js';

/** The closed set of leaf operators. */
export const OPERATORS = ['eq', 'ne', 'lt', 'gt', 'in', 'regex', 'exists', 'prefix'] as const;
/** A leaf operator. */
export type Operator = (typeof OPERATORS)[number];

/** A rule condition as written in JSON. */
export type Condition =
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition }
  | { field?: string; any: Condition }
  | { field?: string; all: Condition }
  | { field?: string; op: Operator; value?: unknown; ifMissing?: boolean };

/** A compiled condition: data turned into a closure over a fixed operator set. */
export type Predicate = (scope: unknown) => boolean;

type Report = (pointer: string, message: string) => void;
type Resolver = (path: string | undefined) => FieldDef | undefined;

/** JSON schema fragment for a condition (shape only; types are checked by compileCondition). */
export const conditionSchema = {
  $id: 'condition',
  type: 'object',
  oneOf: [
    { required: ['and'], additionalProperties: false, properties: { and: { type: 'array', minItems: 1, items: { $ref: 'condition' } } } },
    { required: ['or'], additionalProperties: false, properties: { or: { type: 'array', minItems: 1, items: { $ref: 'condition' } } } },
    { required: ['not'], additionalProperties: false, properties: { not: { $ref: 'condition' } } },
    { required: ['any'], additionalProperties: false, properties: { field: { type: 'string' }, any: { $ref: 'condition' } } },
    { required: ['all'], additionalProperties: false, properties: { field: { type: 'string' }, all: { $ref: 'condition' } } },
    {
      required: ['op'],
      additionalProperties: false,
      properties: { field: { type: 'string' }, op: { enum: [...OPERATORS] }, value: {}, ifMissing: { type: 'boolean' } },
    },
  ],
} as const;

/** Compiles a (schema-valid) condition against subject fields; type errors go to `report`. */
export function compileCondition(cond: Condition, pointer: string, report: Report): Predicate {
  return compile(cond, pointer, report, (p) => (p === undefined ? undefined : subjectField(p)));
}

function compile(cond: Condition, ptr: string, report: Report, resolve: Resolver): Predicate {
  if ('and' in cond) {
    const parts = cond.and.map((c, i) => compile(c, `${ptr}/and/${i}`, report, resolve));
    return (s) => parts.every((p) => p(s));
  }
  if ('or' in cond) {
    const parts = cond.or.map((c, i) => compile(c, `${ptr}/or/${i}`, report, resolve));
    return (s) => parts.some((p) => p(s));
  }
  if ('not' in cond) {
    const inner = compile(cond.not, `${ptr}/not`, report, resolve);
    return (s) => !inner(s);
  }
  if ('any' in cond || 'all' in cond) return compileQuantifier(cond, ptr, report, resolve);
  return compileLeaf(cond, ptr, report, resolve);
}

function compileQuantifier(cond: { field?: string; any?: Condition; all?: Condition }, ptr: string, report: Report, resolve: Resolver): Predicate {
  const def = resolve(cond.field);
  const isAny = cond.any !== undefined;
  const body = (isAny ? cond.any : cond.all) as Condition;
  const bodyPtr = `${ptr}/${isAny ? 'any' : 'all'}`;
  if (!def || (def.kind !== 'strings' && def.kind !== 'mounts')) {
    report(`${ptr}/field`, def ? `"${cond.field}" is a ${def.kind}, not a list: any/all need a list` : unknownField(cond.field));
    return () => false;
  }
  const kind = def.kind;
  const inner = compile(body, bodyPtr, report, (p) => elementField(kind, p));
  return (s) => {
    const list = def.get(s);
    if (!Array.isArray(list)) return false;
    return isAny ? list.some((e) => inner(e)) : list.every((e) => inner(e));
  };
}

const VALUE_TYPE: Partial<Record<Kind, string>> = { string: 'string', number: 'number', boolean: 'boolean' };

function compileLeaf(cond: { field?: string; op: Operator; value?: unknown; ifMissing?: boolean }, ptr: string, report: Report, resolve: Resolver): Predicate {
  const def = resolve(cond.field);
  if (!def) {
    report(`${ptr}/field`, unknownField(cond.field));
    return () => false;
  }
  const test = compileOp(cond.op, def.kind, cond.value, ptr, report);
  const missing = cond.ifMissing ?? (cond.op === 'ne' || (cond.op === 'exists' && cond.value === false));
  return (s) => {
    const v = def.get(s);
    return v === undefined || v === null ? missing : test(v);
  };
}

function compileOp(op: Operator, kind: Kind, value: unknown, ptr: string, report: Report): (v: unknown) => boolean {
  const type = VALUE_TYPE[kind];
  const fail = (message: string) => {
    report(ptr, message);
    return () => false;
  };
  if (op === 'exists') {
    if (value !== undefined && typeof value !== 'boolean') return fail('"exists" takes true, false or no value');
    return () => value !== false;
  }
  if (!type) return fail(`operator "${op}" cannot apply to a ${kind}: use any/all for lists, or name a key of a map`);
  switch (op) {
    case 'eq':
    case 'ne': {
      if (typeof value !== type) return fail(`"${op}" on a ${kind} field needs a ${type} value`);
      return op === 'eq' ? (v) => v === value : (v) => v !== value;
    }
    case 'lt':
    case 'gt':
      if (kind !== 'number' || typeof value !== 'number') return fail(`"${op}" needs a number field and a number value`);
      return op === 'lt' ? (v) => (v as number) < value : (v) => (v as number) > value;
    case 'in':
      if (!Array.isArray(value) || value.some((x) => typeof x !== type)) return fail(`"in" on a ${kind} field needs a list of ${type}s`);
      return (v) => value.includes(v);
    case 'prefix':
      if (kind !== 'string' || typeof value !== 'string') return fail('"prefix" needs a string field and a string value');
      return (v) => (v as string).startsWith(value);
    case 'regex':
      return compileRegex(kind, value, fail);
  }
}

function compileRegex(kind: Kind, value: unknown, fail: (m: string) => () => boolean): (v: unknown) => boolean {
  if (kind !== 'string' || typeof value !== 'string') return fail('"regex" needs a string field and a string pattern');
  try {
    const re = new RegExp(value, 'u');
    return (v) => re.test(v as string);
  } catch (err) {
    return fail(`invalid regex: ${(err as Error).message}`);
  }
}

function unknownField(path: string | undefined): string {
  return path === undefined ? 'a field is required here' : `unknown field "${path}"`;
}

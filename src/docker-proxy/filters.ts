import { parseStrictJson } from './strict-json.js';

/** Docker list filters, normalised: filter name → values. */
export type Filters = ReadonlyMap<string, readonly string[]>;

/** Why a filters parameter was refused. */
export class BadFilters extends Error {}

/**
 * Reads a `filters` query value the way Docker's filters.FromJSON does: either
 * `{"label":{"a=b":true}}` or the older `{"label":["a=b"]}`. Docker takes every key of the
 * inner map whatever its boolean, so this does too. Duplicate keys are refused (strict JSON).
 */
export function parseFilters(text: string): Filters {
  let raw: unknown;
  try {
    raw = parseStrictJson(text);
  } catch (err) {
    throw new BadFilters(`filters are not plain JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new BadFilters('filters must be a JSON object');
  const out = new Map<string, string[]>();
  for (const [name, v] of Object.entries(raw)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out.set(name, [...new Set(v as string[])]);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((b) => typeof b === 'boolean')) out.set(name, Object.keys(v));
    else throw new BadFilters(`filter "${name}" must be a list of strings or a map of booleans`);
  }
  return out;
}

/** The filters in the one form sent to Docker. */
export function formatFilters(filters: Filters): string {
  return JSON.stringify(Object.fromEntries([...filters].map(([k, vs]) => [k, Object.fromEntries(vs.map((v) => [v, true]))])));
}

/** True when a `label` filter requires `key=value` (Docker ANDs label filters, so the answer is narrowed to it). */
export function requiresLabel(filters: Filters, key: string, value: string): boolean {
  return (filters.get('label') ?? []).includes(`${key}=${value}`);
}

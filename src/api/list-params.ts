import { createHash } from 'node:crypto';
import { InvalidError } from '../errors.js';
import { STATUSES, type JobStatus } from '../jobs/job.js';
import type { JobFilter, ListQuery } from '../jobs/listing.js';

/** The query parameters GET /api/v1/jobs takes. */
export const LIST_PARAMETERS = ['engine', 'status', 'filename', 'sha256', 'created_after', 'created_before', 'limit', 'cursor'] as const;

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

/** ISO 8601: a date (UTC midnight), or a date and time with a zone (`Z` or `±hh:mm`). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2}))?$/;
const ENGINE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;

type Query = Record<string, string | string[] | undefined>;

const bad = (message: string): InvalidError => new InvalidError('INVALID_PARAMETER', message);

/** Reads an ISO 8601 time; a bad one is a 400 naming the parameter. */
export function parseTime(name: string, value: string): Date {
  const m = ISO_TIME.exec(value);
  const date = m ? new Date(m[4] === undefined ? `${value}T00:00:00Z` : value) : undefined;
  // A valid shape may still name no day (2026-02-30): the parsed date must give the same day back.
  if (!m || !date || Number.isNaN(date.getTime()) || (m[4] === undefined && date.toISOString().slice(0, 10) !== value)) {
    throw bad(`${name} must be an ISO 8601 date (2026-11-27) or time with a zone (2026-11-27T10:00:00Z), not ${JSON.stringify(value.slice(0, 40))}`);
  }
  return date;
}

function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw bad(`${name} may be given once`);
  return v;
}

/** The filter the parameters ask for (the caller's scope is added by the service). */
export function parseFilter(query: Query): JobFilter {
  const unknown = Object.keys(query).filter((k) => !(LIST_PARAMETERS as readonly string[]).includes(k));
  if (unknown.length) throw bad(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).join(', ')}; known: ${LIST_PARAMETERS.join(', ')}`);
  const f: JobFilter = {};
  const engine = single(query, 'engine');
  if (engine !== undefined) {
    if (!ENGINE.test(engine)) throw bad(`engine ${JSON.stringify(engine.slice(0, 70))} is not an engine name`);
    f.engine = engine;
  }
  const status = single(query, 'status');
  if (status !== undefined) {
    const list = [...new Set(status.split(','))];
    const wrong = list.filter((s) => !(STATUSES as readonly string[]).includes(s));
    if (wrong.length) throw bad(`status must be a comma list of ${STATUSES.join(', ')}; not ${JSON.stringify(wrong[0]?.slice(0, 40))}`);
    f.statuses = list as JobStatus[];
  }
  const filename = single(query, 'filename');
  if (filename !== undefined) {
    if (filename === '' || filename.length > 255) throw bad('filename must be 1 to 255 characters (matched exactly)');
    f.filename = filename;
  }
  const sha256 = single(query, 'sha256');
  if (sha256 !== undefined) {
    if (!SHA256.test(sha256)) throw bad('sha256 must be 64 hexadecimal digits');
    f.sha256 = sha256.toLowerCase();
  }
  const after = single(query, 'created_after');
  const before = single(query, 'created_before');
  if (after !== undefined) f.createdAfter = parseTime('created_after', after);
  if (before !== undefined) f.createdBefore = parseTime('created_before', before);
  if (f.createdAfter && f.createdBefore && f.createdAfter >= f.createdBefore) throw bad('created_after must be earlier than created_before');
  return f;
}

/** What a cursor is bound to: the filter and the caller's scope, as a short digest. */
function filterKey(f: JobFilter, owner: string | undefined): string {
  const canonical = JSON.stringify([f.engine, f.statuses ? [...f.statuses].sort() : null, f.filename, f.sha256,
    f.createdAfter?.toISOString(), f.createdBefore?.toISOString(), owner ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/** An opaque cursor: where the page ended, bound to the filter it was made for. */
export function encodeCursor(lastId: string, f: JobFilter, owner: string | undefined): string {
  return Buffer.from(JSON.stringify({ v: 1, id: lastId, f: filterKey(f, owner) })).toString('base64url');
}

function decodeCursor(cursor: string, f: JobFilter, owner: string | undefined): string {
  const refuse = (why: string): InvalidError => new InvalidError('INVALID_CURSOR', `cursor ${why}; start again without one`);
  if (!CURSOR.test(cursor)) throw refuse('is malformed');
  let parsed: { v?: unknown; id?: unknown; f?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    throw refuse('is malformed');
  }
  if (parsed?.v !== 1 || typeof parsed.id !== 'string' || !/^[1-9][0-9]{0,17}$/.test(parsed.id)) throw refuse('is malformed');
  if (parsed.f !== filterKey(f, owner)) throw refuse('was made for other filters (or another token\'s scope)');
  return parsed.id;
}

/** The page the parameters ask for, in the caller's scope (`owner` for submit tokens). */
export function parseListQuery(query: Query, owner: string | undefined): ListQuery {
  const filter = parseFilter(query);
  const limitText = single(query, 'limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (!/^[0-9]{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) {
      throw bad(`limit must be an integer from 1 to ${MAX_LIMIT}`);
    }
    limit = Number(limitText);
  }
  const cursor = single(query, 'cursor');
  const q: ListQuery = { ...filter, limit };
  if (cursor !== undefined) q.beforeId = decodeCursor(cursor, filter, owner);
  return q;
}

import type { RowDataPacket } from 'mysql2/promise';
import type { JobStatus } from './job.js';

/**
 * The job listing query (GET /api/v1/jobs): equality filters, a created range, newest first
 * (id descending) with keyset pagination. Every filter combination walks one index backwards
 * from the cursor (see LISTING_INDEXES and migration 7), so a page costs about `limit` rows
 * read whatever the table's size; test/integration/jobs/listing.test.ts checks the plans.
 */
export interface JobFilter {
  engine?: string;
  /** Any of these statuses (one to four). */
  statuses?: readonly JobStatus[];
  /** The upload's file name, exactly. */
  filename?: string;
  sha256?: string;
  /** Created at or after (inclusive). */
  createdAfter?: Date;
  /** Created before (exclusive). */
  createdBefore?: Date;
  /** Only this owner's jobs (a submit token's scope). */
  owner?: string;
}

/** One page: the filter, how many rows, and the id the previous page ended at. */
export interface ListQuery extends JobFilter {
  limit: number;
  /** Only jobs with a smaller id (the keyset cursor). */
  beforeId?: string;
}

type Column = 'engine' | 'status' | 'filename' | 'sha256' | 'owner';

/** The indexes a listing may walk: equality columns, then id. Earlier ones win ties. */
export const LISTING_INDEXES: readonly { name: string; columns: readonly Column[] }[] = [
  { name: 'jobs_sha256', columns: ['sha256'] },
  { name: 'jobs_filename', columns: ['filename'] },
  { name: 'jobs_owner_engine_status', columns: ['owner', 'engine', 'status'] },
  { name: 'jobs_owner_engine', columns: ['owner', 'engine'] },
  { name: 'jobs_owner_status', columns: ['owner', 'status'] },
  { name: 'jobs_owner', columns: ['owner'] },
  { name: 'jobs_engine_status', columns: ['engine', 'status'] },
  { name: 'jobs_engine', columns: ['engine'] },
  { name: 'jobs_status', columns: ['status'] },
  { name: 'PRIMARY', columns: [] },
];

/**
 * How far out of order created_at may be against id: an INSERT takes its timestamp when its
 * statement starts and its id a moment later, so ids and times of concurrent inserts may
 * cross. Inserts finish within seconds (a 10 s statement timeout), so a minute is safe.
 */
export const CREATED_SLACK_MS = 60_000;

/** Runs one statement and gives its rows (the store binds it to its pool). */
export type RunQuery = (sql: string, params: unknown[]) => Promise<RowDataPacket[]>;

/** The index a filter walks: the one whose columns the filter fixes the most of. */
export function chooseIndex(f: JobFilter): { name: string; columns: readonly Column[] } {
  const fixed = new Set<Column>();
  if (f.engine !== undefined) fixed.add('engine');
  if (f.statuses?.length) fixed.add('status');
  if (f.filename !== undefined) fixed.add('filename');
  if (f.sha256 !== undefined) fixed.add('sha256');
  if (f.owner !== undefined) fixed.add('owner');
  const usable = LISTING_INDEXES.filter((i) => i.columns.every((c) => fixed.has(c)));
  // sha256 and filename single out a few rows, so they win over longer but broader indexes.
  const selective = usable.find((i) => i.name === 'jobs_sha256' || i.name === 'jobs_filename');
  return selective ?? usable.reduce((best, i) => (i.columns.length > best.columns.length ? i : best));
}

/**
 * The statements that turn the created range into id bounds (each one walks jobs_created for
 * one row): ids of jobs created in the range lie strictly between `above` and `below`.
 */
export function boundStatements(f: JobFilter): { below?: { sql: string; params: unknown[] }; above?: { sql: string; params: unknown[] } } {
  const out: ReturnType<typeof boundStatements> = {};
  if (f.createdBefore) {
    out.below = { sql: 'SELECT id FROM jobs FORCE INDEX (jobs_created) WHERE created_at >= ? ORDER BY created_at, id LIMIT 1',
      params: [new Date(f.createdBefore.getTime() + CREATED_SLACK_MS)] };
  }
  if (f.createdAfter) {
    out.above = { sql: 'SELECT id FROM jobs FORCE INDEX (jobs_created) WHERE created_at < ? ORDER BY created_at DESC, id DESC LIMIT 1',
      params: [new Date(f.createdAfter.getTime() - CREATED_SLACK_MS)] };
  }
  return out;
}

/** The page statement for a query and the id bounds its created range gave. */
export function pageStatement(q: ListQuery, bounds: { below?: string; above?: string } = {}): { sql: string; params: unknown[] } {
  const index = chooseIndex(q);
  const statuses = q.statuses ?? [];
  const conditions = (status: JobStatus | undefined): { where: string[]; params: unknown[] } => {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      where.push(sql);
      params.push(value);
    };
    if (q.sha256 !== undefined) add('sha256 = ?', q.sha256);
    if (q.filename !== undefined) add('filename = ?', q.filename);
    if (q.owner !== undefined) add('owner = ?', q.owner);
    if (q.engine !== undefined) add('engine = ?', q.engine);
    if (status !== undefined) add('status = ?', status);
    else if (statuses.length) add('status IN (?)', statuses);
    if (q.createdAfter) add('created_at >= ?', q.createdAfter);
    if (q.createdBefore) add('created_at < ?', q.createdBefore);
    if (q.beforeId !== undefined) add('id < ?', q.beforeId);
    if (bounds.below !== undefined) add('id < ?', bounds.below);
    if (bounds.above !== undefined) add('id > ?', bounds.above);
    return { where, params };
  };
  const select = (status: JobStatus | undefined): { sql: string; params: unknown[] } => {
    const { where, params } = conditions(status);
    return { sql: `SELECT * FROM jobs FORCE INDEX (${index.name})${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      params: [...params, q.limit] };
  };
  if (statuses.length === 1) return select(statuses[0]);
  if (!index.columns.includes('status')) return select(undefined);
  // An index walk gives one status in id order: merge one bounded walk per status.
  const parts = statuses.map((s) => select(s));
  return { sql: `SELECT * FROM (${parts.map((p) => `(${p.sql})`).join(' UNION ALL ')}) AS page ORDER BY id DESC LIMIT ?`,
    params: [...parts.flatMap((p) => p.params), q.limit] };
}

/** Reads one page of rows, newest first (at most `limit`). */
export async function listRows(run: RunQuery, q: ListQuery): Promise<RowDataPacket[]> {
  const statements = boundStatements(q);
  const bounds: { below?: string; above?: string } = {};
  if (statements.below) bounds.below = (await run(statements.below.sql, statements.below.params))[0]?.id?.toString();
  if (statements.above) bounds.above = (await run(statements.above.sql, statements.above.params))[0]?.id?.toString();
  if (bounds.below === undefined) delete bounds.below;
  if (bounds.above === undefined) delete bounds.above;
  const page = pageStatement(q, bounds);
  return run(page.sql, page.params);
}

import mysql, { type Pool, type PoolOptions, type RowDataPacket } from 'mysql2/promise';
import { STATUS, STATUSES, type JobScope, type JobStatus } from './job.js';
import { poolOptions, translateDbError as translate, UTC_SESSION } from './store.js';

/** Which jobs a console query counts or lists: all filters optional. */
export interface MonitorFilter {
  engine?: string;
  statuses?: readonly JobStatus[];
  /** Only jobs of this owner (a `submit` token's scope). */
  owner?: string;
}

/** One row of the original console's job list. */
export interface MonitorRow {
  id: number;
  engine: string;
  filename: string;
  status: JobStatus;
  created: string;
  started: string | null;
  finished: string | null;
  error: string;
}

/** Jobs finished per engine and outcome over a recent window. */
export interface Throughput {
  minutes: number;
  finished: Record<string, { success: number; fail: number }>;
  /** Finished jobs per minute over the window, all engines. */
  perMinute: number;
}

/** What the console routes read: counts and pages of the jobs table. */
export interface MonitorSource {
  countByEngineAndStatus(scope: JobScope): Promise<{ engine: string; status: JobStatus; count: number }[]>;
  countSince(filter: MonitorFilter, minId: number): Promise<{ count: number; maxIndex: number }>;
  page(filter: MonitorFilter, maxId: number, limit: number, offset: number): Promise<MonitorRow[]>;
  throughput(scope: JobScope, minutes: number): Promise<Throughput>;
  close(): Promise<void>;
}

/** No statement may take longer (as in the job store). */
const TIMEOUT_MS = 10_000;

/**
 * The console's read-only queries over the jobs table, on a small pool of their own so a
 * busy dashboard cannot starve job state changes. Every filter is a bound parameter; the
 * statuses are checked against the job model before they get here.
 */
export class MonitorQueries implements MonitorSource {
  readonly #pool: Pool;
  #closing: Promise<void> | undefined;

  constructor(options: PoolOptions) {
    this.#pool = mysql.createPool(poolOptions({ ...options, connectionLimit: Math.min(4, options.connectionLimit ?? 4) }));
    this.#pool.on('connection', (conn) => {
      const core = conn as unknown as { query(sql: string, cb: (err: Error | null) => void): void; destroy(): void };
      core.query(UTC_SESSION, (err) => {
        if (err) core.destroy();
      });
    });
  }

  /** Job counts per engine and status (the original's queues matrix); uses (engine, status, id). */
  async countByEngineAndStatus(scope: JobScope): Promise<{ engine: string; status: JobStatus; count: number }[]> {
    const { where, params } = conditions({ ...(scope.owner === undefined ? {} : { owner: scope.owner }) });
    const rows = await this.#query(`SELECT engine, status, COUNT(*) AS n FROM jobs ${where} GROUP BY engine, status`, params);
    return rows.map((r) => ({ engine: String(r.engine), status: r.status as JobStatus, count: Number(r.n) }));
  }

  /** How many jobs match with an id of at least `minId`, and the highest such id (0 if none). */
  async countSince(filter: MonitorFilter, minId: number): Promise<{ count: number; maxIndex: number }> {
    // No id bound when counting from the start: the count can then use the narrowest index
    // instead of range-reading the clustered one (about half the time on a million rows).
    const { where, params } = minId > 0 ? conditions(filter, ['id >= ?'], [minId]) : conditions(filter);
    const rows = await this.#query(`SELECT COUNT(*) AS n, COALESCE(MAX(id), 0) AS max_id FROM jobs ${where}`, params);
    return { count: Number(rows[0]?.n ?? 0), maxIndex: Number(rows[0]?.max_id ?? 0) };
  }

  /** A page of matching jobs with `id <= maxId`, newest first. */
  async page(filter: MonitorFilter, maxId: number, limit: number, offset: number): Promise<MonitorRow[]> {
    const { where, params } = conditions(filter, ['id <= ?'], [maxId]);
    const rows = await this.#query(
      `SELECT id, engine, filename, status, reason, created_at, started_at, finished_at FROM jobs ${where} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...params, limit, offset]);
    return rows.map((r) => ({
      id: Number(r.id), engine: String(r.engine), filename: String(r.filename), status: r.status as JobStatus,
      created: (r.created_at as Date).toISOString(), started: iso(r.started_at), finished: iso(r.finished_at), error: r.reason ?? '',
    }));
  }

  /** Jobs finished in the last `minutes` (uses the finished_at index of migration 10). */
  async throughput(scope: JobScope, minutes: number): Promise<Throughput> {
    const since = new Date(Date.now() - minutes * 60_000);
    const { where, params } = conditions({ ...(scope.owner === undefined ? {} : { owner: scope.owner }) }, ['finished_at >= ?'], [since]);
    const rows = await this.#query(`SELECT engine, status, COUNT(*) AS n FROM jobs ${where} GROUP BY engine, status`, params);
    const finished: Throughput['finished'] = {};
    let total = 0;
    for (const r of rows) {
      const entry = (finished[String(r.engine)] ??= { success: 0, fail: 0 });
      const n = Number(r.n);
      if (r.status === STATUS.success) entry.success += n;
      else entry.fail += n;
      total += n;
    }
    return { minutes, finished, perMinute: Math.round((total / minutes) * 10) / 10 };
  }

  /** Closes the pool; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.end().catch(() => undefined);
    return this.#closing;
  }

  async #query(sql: string, params: unknown[]): Promise<RowDataPacket[]> {
    const [rows] = await this.#pool.query<RowDataPacket[]>({ sql, timeout: TIMEOUT_MS }, params).catch(translate);
    return rows;
  }
}

/** The WHERE clause of a filter, its values bound. */
function conditions(filter: MonitorFilter, extra: string[] = [], extraParams: unknown[] = []): { where: string; params: unknown[] } {
  const parts = [...extra];
  const params = [...extraParams];
  if (filter.engine !== undefined) {
    parts.push('engine = ?');
    params.push(filter.engine);
  }
  if (filter.statuses !== undefined && filter.statuses.length > 0) {
    const known = filter.statuses.filter((s) => (STATUSES as readonly string[]).includes(s));
    parts.push('status IN (?)');
    params.push(known);
  }
  if (filter.owner !== undefined) {
    parts.push('owner = ?');
    params.push(filter.owner);
  }
  return { where: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

function iso(d: unknown): string | null {
  return d instanceof Date ? d.toISOString() : null;
}

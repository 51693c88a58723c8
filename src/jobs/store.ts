import mysql, { type Pool, type PoolConnection, type PoolOptions, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { UnavailableError } from '../errors.js';
import { isTerminal, sqlStatuses, STATUS, TERMINAL, TRANSITIONS, type Job, type JobEvent, type JobStatus } from './job.js';
import { assignments, toJob, type ApplyFields, type NewJob } from './job-row.js';
import { listRows, type ListQuery } from './listing.js';
import { MIGRATIONS } from './migrations.js';
import { ENQUEUE_WEBHOOK } from './webhook-outbox.js';

/** The outcome of a conditional state change. */
export type ApplyResult =
  | { kind: 'applied'; job: Job }
  /** The same lease already brought the job to this state: a duplicate, harmless. */
  | { kind: 'duplicate'; job: Job }
  | { kind: 'conflict'; job: Job }
  | { kind: 'missing' };

/** Conditions on the row beyond the event's allowed source states. */
export interface ApplyGuard {
  lease?: string;
  maxAttempts?: number;
  /** A Running job qualifies only if its deadline has passed (its holder is presumed dead). */
  runningOnlyIfExpired?: boolean;
}

const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'POOL_CLOSED', 'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_DEADLOCK', 'CR_CONN_HOST_ERROR', 'ER_ACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR']);

/** How many seconds a request refused for a full pool queue is told to wait. */
const OVERLOADED_RETRY_AFTER_S = 1;

/**
 * Turns a driver error into an AppError; the driver's message stays in `cause`. A full pool
 * queue (queueLimit: more requests waiting for a connection than it holds) is this process's
 * overload, not the database's failure: OVERLOADED, not DATABASE_UNAVAILABLE.
 */
export function translateDbError(err: unknown): never {
  const code = (err as { code?: string }).code ?? '';
  const message = String((err as Error).message);
  if (code === '' && /^Queue limit reached/.test(message)) {
    throw new UnavailableError('OVERLOADED', 'the server has too many requests waiting for its database; try again shortly', { cause: err, retryAfter: OVERLOADED_RETRY_AFTER_S });
  }
  if (TRANSIENT.has(code) || /connect/i.test(message)) {
    throw new UnavailableError('DATABASE_UNAVAILABLE', 'the job database is not available; try again shortly', { cause: err });
  }
  throw err;
}

const translate = translateDbError;
/** A statement with the store's timeout attached (for the other stores of src/jobs/). */
export const timed = (sql: string): { sql: string; timeout: number } => t(sql);

/** No statement may take longer; a hung (not dropped) connection gives a 503, not a hang. */
const STATEMENT_TIMEOUT_MS = 10_000;

/** A statement with the timeout attached. */
function t(sql: string): { sql: string; timeout: number } {
  return { sql, timeout: STATEMENT_TIMEOUT_MS };
}

/**
 * Pool options that keep requests from hanging when MariaDB is slow or down. No caller stack is
 * captured per statement (mysql2's `trace`: 15 % of the client's CPU per single-row read, about
 * 4 % of the frontend's under reads); an error keeps MariaDB's code and message, and its stack
 * ends in mysql2 rather than in the caller.
 */
export function poolOptions(cfg: PoolOptions): PoolOptions {
  return { connectTimeout: 5000, queueLimit: 100, waitForConnections: true, dateStrings: false,
    supportBigNumbers: true, bigNumberStrings: true, timezone: 'Z', trace: false, ...cfg };
}

/** Makes a session's CURRENT_TIMESTAMP, NOW() and column defaults UTC. */
export const UTC_SESSION = "SET time_zone = '+00:00'";

/** The callback-style connection the pool's 'connection' event hands out. */
interface CoreConnection {
  query(sql: string, cb: (err: Error | null) => void): void;
  destroy(): void;
}

/** The MySQL/MariaDB job store: the one place where job rows are read and changed. */
export class JobStore {
  readonly #pool: Pool;
  #closing: Promise<void> | undefined;

  constructor(options: PoolOptions) {
    this.#pool = mysql.createPool(poolOptions(options));
    // CURRENT_TIMESTAMP and column defaults use the session time zone, which defaults to the
    // server's; the app reads and writes UTC (timezone 'Z'), so every session must be UTC too.
    // The SET is queued on the new connection before any statement a caller sends.
    this.#pool.on('connection', (conn) => {
      const core = conn as unknown as CoreConnection;
      core.query(UTC_SESSION, (err) => {
        if (err) core.destroy();
      });
    });
  }

  /** Applies pending migrations, serialised across processes with a named lock. */
  async migrate(): Promise<number[]> {
    const conn = await this.#pool.getConnection().catch(translate);
    try {
      await conn.query(`SELECT GET_LOCK('menagerie_migrate', 60)`);
      await conn.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
        applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`);
      const [rows] = await conn.query<RowDataPacket[]>('SELECT version FROM schema_migrations');
      const done = new Set(rows.map((r) => Number(r.version)));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        for (const sql of m.sql) await conn.query(sql);
        await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [m.version, m.name]);
        applied.push(m.version);
      }
      return applied;
    } finally {
      await conn.query(`SELECT RELEASE_LOCK('menagerie_migrate')`).catch(() => undefined);
      conn.release();
    }
  }

  /** Inserts a Received job and returns its id. */
  async create(job: NewJob): Promise<string> {
    const [res] = await this.#pool
      .execute<ResultSetHeader>(t('INSERT INTO jobs (engine, filename, size, sha256, owner, retry_of, callback) VALUES (?, ?, ?, ?, ?, ?, ?)'),
        [job.engine, job.filename, job.size, job.sha256, job.owner ?? null, job.retryOf ?? null, job.callback ?? null])
      .catch(translate);
    return String(res.insertId);
  }

  /** The pool, for the other stores of src/jobs/ (idempotency keys, webhook outbox, result cache). */
  get pool(): Pool {
    return this.#pool;
  }

  /** Reads one job, or undefined. */
  async get(id: string): Promise<Job | undefined> {
    const [rows] = await this.#pool.execute<RowDataPacket[]>(t('SELECT * FROM jobs WHERE id = ?'), [id]).catch(translate);
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /** One page of the job listing, newest first (the query is built in listing.ts). */
  async list(query: ListQuery): Promise<Job[]> {
    // A prepared statement (execute: parsed once per connection, rows in the binary protocol)
    // unless a parameter is a list (`status IN (?)`), which only the text protocol expands.
    const run = async (sql: string, params: unknown[]): Promise<RowDataPacket[]> => (params.some(Array.isArray)
      ? await this.#pool.query<RowDataPacket[]>(t(sql), params)
      : await this.#pool.execute<RowDataPacket[]>(t(sql), params as (string | number | Date | null)[]))[0];
    const rows = await listRows(run, query).catch(translate);
    return rows.map(toJob);
  }

  /**
   * Jobs the reaper must act on: Running ones whose lease expired; Received ones whose
   * message is not confirmed in the broker: retries (started before) at once, first
   * submissions once they are older than `unqueuedBefore` (their upload was cut short); and
   * waiting ones first handed back by an outage before `infraBefore`.
   */
  async listReapable(unqueuedBefore: Date, limit = 100, infraBefore = new Date(0)): Promise<Job[]> {
    // Deadlines are computed by the app, so they are compared with the app's clock. One branch
    // per case, each a range of its own index (jobs_status_deadline, jobs_status_queued,
    // jobs_status_infra): the scan runs every few seconds, and one WHERE with ORs walked the
    // primary key through the whole table (a million finished jobs: a quarter of a second of
    // the database's time, each time) to find nothing. UNION drops a row two branches find.
    const [rows] = await this.#pool
      .query<RowDataPacket[]>(
        t(`(SELECT * FROM jobs WHERE status = '${STATUS.running}' AND deadline < ? ORDER BY id LIMIT ?)
           UNION (SELECT * FROM jobs WHERE status = '${STATUS.waiting}' AND queued = 0
             AND (attempts > 0 OR started_at IS NOT NULL OR created_at < ?) ORDER BY id LIMIT ?)
           UNION (SELECT * FROM jobs WHERE status = '${STATUS.waiting}' AND infra_since < ? ORDER BY id LIMIT ?)
         ORDER BY id LIMIT ?`),
        [new Date(), limit, unqueuedBefore, limit, infraBefore, limit, limit])
      .catch(translate);
    return rows.map(toJob);
  }

  /** Finished jobs that ended before `before`, oldest first. */
  async listFinishedBefore(before: Date, limit: number): Promise<string[]> {
    const [rows] = await this.#pool
      .query<RowDataPacket[]>(t(`SELECT id FROM jobs WHERE status IN (${sqlStatuses(TERMINAL)}) AND finished_at < ? ORDER BY finished_at LIMIT ?`),
        [before, limit])
      .catch(translate);
    return rows.map((r) => String(r.id));
  }

  /** Deletes a finished job's row and events if it still ended before `before`. */
  async removeFinished(id: string, before: Date): Promise<boolean> {
    return this.#transaction(async (conn) => {
      const [res] = await conn.query<ResultSetHeader>(
        t(`DELETE FROM jobs WHERE id = ? AND status IN (${sqlStatuses(TERMINAL)}) AND finished_at < ?`), [id, before]);
      if (res.affectedRows === 1) {
        await conn.query(t('DELETE FROM job_events WHERE job_id = ?'), [id]);
        await conn.query(t('DELETE FROM webhook_deliveries WHERE job_id = ?'), [id]);
      }
      return res.affectedRows === 1;
    });
  }

  /** Which of `ids` have a row. */
  async existing(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const [rows] = await this.#pool.query<RowDataPacket[]>(t('SELECT id FROM jobs WHERE id IN (?)'), [ids]).catch(translate);
    return new Set(rows.map((r) => String(r.id)));
  }

  /** Notes that the broker confirmed the first message of a job (bookkeeping, not a state change). */
  async markQueued(id: string): Promise<void> {
    await this.#pool.execute(t('UPDATE jobs SET queued = 1 WHERE id = ?'), [id]).catch(translate);
  }

  /** Deletes a Received job whose message was never confirmed; false if it moved on meanwhile. */
  async removeAbandoned(id: string): Promise<boolean> {
    const [res] = await this.#pool
      .execute<ResultSetHeader>(t(`DELETE FROM jobs WHERE id = ? AND status = '${STATUS.waiting}' AND queued = 0 AND attempts = 0 AND started_at IS NULL`), [id])
      .catch(translate);
    return res.affectedRows === 1;
  }

  /**
   * Applies `event` to job `id` if the row is in an allowed source state and matches the
   * guard, in one conditional UPDATE: concurrent or stale callers cannot overwrite a newer
   * state. Every job state change in the system goes through here.
   */
  async apply(id: string, event: JobEvent, fields: ApplyFields = {}, guard: ApplyGuard = {}): Promise<ApplyResult> {
    const { sets, params } = assignments(TRANSITIONS[event].to, fields);
    const where = ['id = ?', 'status IN (?)'];
    const whereParams: unknown[] = [id, TRANSITIONS[event].from];
    if (guard.lease !== undefined) {
      where.push('lease = ?');
      whereParams.push(guard.lease);
    }
    if (guard.runningOnlyIfExpired) {
      where.push(`(status <> '${STATUS.running}' OR deadline < ?)`);
      whereParams.push(new Date());
    }
    if (guard.maxAttempts !== undefined) {
      where.push('attempts < ?');
      whereParams.push(guard.maxAttempts);
    }
    const sql = `UPDATE jobs SET ${sets.join(', ')} WHERE ${where.join(' AND ')}`;
    const affected = await this.#transaction(async (conn) => {
      const [res] = await conn.query<ResultSetHeader>(t(sql), [...params, ...whereParams]);
      if (res.affectedRows === 1 && event !== 'heartbeat') {
        await conn.query(t('INSERT INTO job_events (job_id, event, status, lease) SELECT id, ?, status, lease FROM jobs WHERE id = ?'),
          [event, id]);
        // The webhook is owed in the same transaction that ends the job: nothing is lost.
        if (isTerminal(TRANSITIONS[event].to)) await conn.query(t(ENQUEUE_WEBHOOK), [id]);
      }
      return res.affectedRows;
    });
    const job = await this.get(id);
    if (!job) return { kind: 'missing' };
    if (affected === 1) return { kind: 'applied', job };
    const same = guard.lease !== undefined && job.lease === guard.lease && job.status === TRANSITIONS[event].to;
    return { kind: same ? 'duplicate' : 'conflict', job };
  }

  /** The recorded state changes of a job, oldest first. */
  async events(id: string): Promise<{ event: JobEvent; status: JobStatus; lease: string | null; at: Date }[]> {
    const [rows] = await this.#pool
      .execute<RowDataPacket[]>(t('SELECT event, status, lease, at FROM job_events WHERE job_id = ? ORDER BY id'), [id])
      .catch(translate);
    return rows.map((r) => ({ event: r.event, status: r.status, lease: r.lease, at: r.at }));
  }

  async #transaction<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.#pool.getConnection().catch(translate);
    try {
      await conn.beginTransaction();
      const out = await fn(conn);
      await conn.commit();
      return out;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      return translate(err);
    } finally {
      conn.release();
    }
  }

  /** Answers whether the database is reachable. */
  async ping(): Promise<void> {
    await this.#pool.query(t('SELECT 1')).catch(translate);
  }

  /** Closes the pool; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.end().catch(() => undefined);
    return this.#closing;
  }
}

export { toJob, type ApplyFields, type NewJob };

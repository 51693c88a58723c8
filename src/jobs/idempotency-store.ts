import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { IDEMPOTENCY_TTL_MS, type KeyedJob, type KeyedRequest, type KeyRecord } from './idempotency.js';
import { timed, translateDbError } from './store.js';

/**
 * Idempotency keys (table idempotency_keys, migration 8). The primary key (scope, key) makes
 * the first request's insert the one that creates jobs; concurrent ones find its row.
 */
export class IdempotencyStore {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** Records the key for `request` unless it is on record; true if this call recorded it. */
  async claim(scope: string, key: string, request: KeyedRequest): Promise<boolean> {
    const [res] = await this.#pool.execute<ResultSetHeader>(timed(
      'INSERT IGNORE INTO idempotency_keys (scope, idem_key, engines, body_sha256) VALUES (?, ?, ?, ?)'),
    [scope, key, request.engines, request.sha256]).catch(translateDbError);
    return res.affectedRows === 1;
  }

  /** The key's record, or undefined. */
  async get(scope: string, key: string): Promise<KeyRecord | undefined> {
    const [rows] = await this.#pool.execute<RowDataPacket[]>(timed(
      'SELECT engines, body_sha256, jobs, created_at FROM idempotency_keys WHERE scope = ? AND idem_key = ?'), [scope, key])
      .catch(translateDbError);
    const r = rows[0];
    if (!r) return undefined;
    const jobs = typeof r.jobs === 'string' ? JSON.parse(r.jobs) : (r.jobs ?? null);
    return { engines: r.engines, sha256: r.body_sha256, jobs, createdAt: r.created_at };
  }

  /** Stores the jobs a claimed key created. */
  async complete(scope: string, key: string, jobs: KeyedJob[]): Promise<void> {
    await this.#pool.execute(timed('UPDATE idempotency_keys SET jobs = ? WHERE scope = ? AND idem_key = ?'), [JSON.stringify(jobs), scope, key])
      .catch(translateDbError);
  }

  /** Gives up a claim whose request failed (nothing was created): the key may be used again. */
  async release(scope: string, key: string): Promise<void> {
    await this.#pool.execute(timed('DELETE FROM idempotency_keys WHERE scope = ? AND idem_key = ? AND jobs IS NULL'), [scope, key])
      .catch(translateDbError);
  }

  /** Removes the record judged expired (created at `createdAt`), so the key can be claimed again. */
  async replace(scope: string, key: string, createdAt: Date): Promise<void> {
    await this.#pool.execute(timed('DELETE FROM idempotency_keys WHERE scope = ? AND idem_key = ? AND created_at = ?'), [scope, key, createdAt])
      .catch(translateDbError);
  }

  /** Removes records older than the TTL (the frontend does this periodically); returns how many. */
  async purge(now: Date): Promise<number> {
    const before = new Date(now.getTime() - IDEMPOTENCY_TTL_MS);
    const [res] = await this.#pool.execute<ResultSetHeader>(timed('DELETE FROM idempotency_keys WHERE created_at <= ? LIMIT 1000'), [before])
      .catch(translateDbError);
    return res.affectedRows;
  }
}

import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { STATUS, type Job } from './job.js';
import { timed, toJob, translateDbError, type NewJob } from './store.js';
import { ENQUEUE_WEBHOOK } from './webhook-outbox.js';

/**
 * The result cache's rows: the newest successful job of an engine for a sha256 that ran on a
 * given image, and new jobs answered from it (born Success, marked cached).
 */
export class ResultCacheStore {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** The newest Success of `engine` for `sha256` made by image `digest`, or undefined. */
  async find(engine: string, sha256: string, digest: string): Promise<Job | undefined> {
    const [rows] = await this.#pool.execute<RowDataPacket[]>(timed(
      `SELECT * FROM jobs WHERE sha256 = ? AND engine = ? AND image_digest = ? AND status = '${STATUS.success}' ORDER BY id DESC LIMIT 1`),
    [sha256, engine, digest]).catch(translateDbError);
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /**
   * Inserts a finished job answered from `from`: Success, cached, with its summary, result
   * size and image; its webhook (if any) is owed in the same transaction.
   */
  async create(job: NewJob, from: Job): Promise<string> {
    const conn = await this.#pool.getConnection().catch(translateDbError);
    try {
      await conn.beginTransaction();
      const [res] = await conn.query<ResultSetHeader>(timed(
        `INSERT INTO jobs (engine, filename, size, sha256, owner, callback, status, summary, result_size, image_digest, cached, queued, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, '${STATUS.success}', ?, ?, ?, 1, 1, CURRENT_TIMESTAMP(3))`),
      [job.engine, job.filename, job.size, job.sha256, job.owner ?? null, job.callback ?? null, from.summary, from.resultSize, from.imageDigest]);
      const id = String(res.insertId);
      await conn.query(timed('INSERT INTO job_events (job_id, event, status) VALUES (?, ?, ?)'), [id, 'cached', STATUS.success]);
      await conn.query(timed(ENQUEUE_WEBHOOK), [id]);
      await conn.commit();
      return id;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      return translateDbError(err);
    } finally {
      conn.release();
    }
  }

  /** Deletes a cached job whose files could not be placed (nothing may point at missing files). */
  async remove(id: string): Promise<void> {
    await this.#pool.execute(timed('DELETE FROM webhook_deliveries WHERE job_id = ?'), [id]).catch(translateDbError);
    await this.#pool.execute(timed('DELETE FROM job_events WHERE job_id = ?'), [id]).catch(translateDbError);
    await this.#pool.execute(timed('DELETE FROM jobs WHERE id = ? AND cached = 1'), [id]).catch(translateDbError);
  }
}

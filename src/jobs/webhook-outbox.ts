import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { timed, translateDbError } from './store.js';

/**
 * Owes a job's webhook: run by JobStore.apply in the transaction that ends the job (and by
 * the result cache when it creates a finished job). One delivery per job.
 */
export const ENQUEUE_WEBHOOK = `INSERT IGNORE INTO webhook_deliveries (job_id, url, next_at)
  SELECT id, callback, CURRENT_TIMESTAMP(3) FROM jobs WHERE id = ? AND callback IS NOT NULL`;

/** A webhook delivery still owed. */
export interface DueDelivery {
  id: string;
  jobId: string;
  url: string;
  attempts: number;
}

/** The durable outbox of webhook deliveries (table webhook_deliveries, migration 9). */
export class WebhookOutbox {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** Deliveries due now (not delivered, not given up, next attempt time passed), oldest first. */
  async due(now: Date, limit = 20): Promise<DueDelivery[]> {
    const [rows] = await this.#pool.query<RowDataPacket[]>(timed(
      `SELECT id, job_id, url, attempts FROM webhook_deliveries
       WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_at <= ? ORDER BY next_at, id LIMIT ?`), [now, limit])
      .catch(translateDbError);
    return rows.map((r) => ({ id: String(r.id), jobId: String(r.job_id), url: String(r.url), attempts: Number(r.attempts) }));
  }

  /**
   * Claims a due delivery for one attempt until `until` (another frontend then skips it; if
   * this one dies, the claim lapses and the delivery is due again). False if taken meanwhile.
   */
  async claim(d: DueDelivery, now: Date, until: Date): Promise<boolean> {
    const [res] = await this.#pool.execute<ResultSetHeader>(timed(
      `UPDATE webhook_deliveries SET next_at = ?, attempts = attempts + 1
       WHERE id = ? AND attempts = ? AND delivered_at IS NULL AND gave_up_at IS NULL AND next_at <= ?`), [until, d.id, d.attempts, now])
      .catch(translateDbError);
    return res.affectedRows === 1;
  }

  /** Records a delivery the receiver accepted. */
  async delivered(id: string): Promise<void> {
    await this.#pool.execute(timed('UPDATE webhook_deliveries SET delivered_at = CURRENT_TIMESTAMP(3), last_error = NULL WHERE id = ?'), [id])
      .catch(translateDbError);
  }

  /** Records a failed attempt: tried again at `retryAt`, or given up when it is null. */
  async failed(id: string, error: string, retryAt: Date | null): Promise<void> {
    const sql = retryAt
      ? 'UPDATE webhook_deliveries SET last_error = ?, next_at = ? WHERE id = ?'
      : 'UPDATE webhook_deliveries SET last_error = ?, gave_up_at = CURRENT_TIMESTAMP(3) WHERE id = ?';
    await this.#pool.execute(timed(sql), retryAt ? [error.slice(0, 1024), retryAt, id] : [error.slice(0, 1024), id]).catch(translateDbError);
  }

  /** A job's delivery state (for operators and tests). */
  async of(jobId: string): Promise<{ attempts: number; delivered: boolean; gaveUp: boolean; lastError: string | null } | undefined> {
    const [rows] = await this.#pool.execute<RowDataPacket[]>(timed(
      'SELECT attempts, delivered_at, gave_up_at, last_error FROM webhook_deliveries WHERE job_id = ?'), [jobId]).catch(translateDbError);
    const r = rows[0];
    return r ? { attempts: Number(r.attempts), delivered: r.delivered_at !== null, gaveUp: r.gave_up_at !== null, lastError: r.last_error } : undefined;
  }
}

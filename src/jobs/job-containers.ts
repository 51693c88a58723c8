import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { STATUS } from '../contract/ids.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { toJob } from './job-row.js';
import type { Job } from './job.js';
import { timed, translateDbError } from './store.js';

/**
 * Which warm-pool container runs which job (jobs.container_id, migration 11). A pool
 * container is created before its job is known, so it carries no job label: the worker
 * records it under its lease before starting it, and the enforcer and the orphan sweeper,
 * which find jobs by a container's labels, ask here for the ones without.
 */
export class JobContainers {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** Records `container` as running job `id` for the holder of `lease` (Running jobs only). */
  async bind(id: string, lease: string, container: string): Promise<void> {
    const [res] = await this.#pool.execute<ResultSetHeader>(timed(
      `UPDATE jobs SET container_id = ? WHERE id = ? AND lease = ? AND status = '${STATUS.running}'`), [container, id, lease])
      .catch(translateDbError);
    if (res.affectedRows === 1) return;
    const [rows] = await this.#pool.execute<RowDataPacket[]>(timed('SELECT container_id FROM jobs WHERE id = ? AND lease = ?'), [id, lease])
      .catch(translateDbError);
    if (rows[0]?.container_id === container) return; // the same binding again (a retried call)
    const [exists] = await this.#pool.execute<RowDataPacket[]>(timed('SELECT 1 FROM jobs WHERE id = ?'), [id]).catch(translateDbError);
    if (!exists[0]) throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
    throw new ConflictError('STALE_LEASE', `job ${id} is no longer held by this lease`);
  }

  /** The job container `container` was recorded for, if any. */
  async jobOf(container: string): Promise<Job> {
    const [rows] = await this.#pool.execute<RowDataPacket[]>(timed('SELECT * FROM jobs WHERE container_id = ? ORDER BY id DESC LIMIT 1'), [container])
      .catch(translateDbError);
    if (!rows[0]) throw new NotFoundError('CONTAINER_NOT_FOUND', `no job is recorded for container ${container}`);
    return toJob(rows[0]);
  }
}

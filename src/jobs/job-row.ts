import type { RowDataPacket } from 'mysql2/promise';
import type { Job, JobStatus } from './job.js';

/*
 * How job rows map to Job values and back: the columns a new row records, the columns an
 * event may set, and the conversion of a row read. SQL statements stay in the stores.
 */

/** Column values an event may set besides status. */
export interface ApplyFields {
  lease?: string | null;
  worker?: string | null;
  reason?: string | null;
  summary?: string;
  resultSize?: number | null;
  lastError?: string | null;
  deadline?: Date | null;
  containment?: unknown;
  queued?: boolean;
  startedNow?: boolean;
  finishedNow?: boolean;
  incrementAttempts?: boolean;
  /** Gives back the attempt the last start counted (an outage of our own services, not the job's fault). */
  refundAttempt?: boolean;
  /** Sets infra_since unless it is already set. */
  infraSince?: Date;
  /** The warm-pool container running the job (null: none, cleared at each start). */
  containerId?: string | null;
}

/** What a new job row records. */
export interface NewJob {
  engine: string;
  filename: string;
  size: number;
  sha256: string;
  owner?: string | null;
  retryOf?: string | null;
  callback?: string | null;
}

/** The SET assignments of an event to `status` with `f`. */
export function assignments(status: JobStatus, f: ApplyFields): { sets: string[]; params: unknown[] } {
  const sets = ['status = ?'];
  const params: unknown[] = [status];
  const set = (column: string, value: unknown): void => {
    sets.push(`${column} = ?`);
    params.push(value);
  };
  if (f.lease !== undefined) set('lease', f.lease);
  if (f.worker !== undefined) set('worker', f.worker);
  if (f.reason !== undefined) set('reason', f.reason?.slice(0, 255) ?? null);
  if (f.summary !== undefined) set('summary', f.summary);
  if (f.resultSize !== undefined) set('result_size', f.resultSize);
  if (f.lastError !== undefined) set('last_error', f.lastError?.slice(0, 1024) ?? null);
  if (f.deadline !== undefined) set('deadline', f.deadline);
  if (f.containerId !== undefined) set('container_id', f.containerId);
  if (f.containment !== undefined && f.containment !== null) {
    set('containment', JSON.stringify(f.containment));
    // The image the run used, as the worker read it back from Docker.
    const imageId = (f.containment as { imageId?: unknown }).imageId;
    if (typeof imageId === 'string' && imageId.length <= 100) set('image_digest', imageId);
  }
  if (f.queued !== undefined) set('queued', f.queued ? 1 : 0);
  if (f.incrementAttempts) sets.push('attempts = attempts + 1');
  if (f.refundAttempt) sets.push('attempts = IF(attempts > 0, attempts - 1, 0)');
  if (f.infraSince !== undefined) {
    sets.push('infra_since = COALESCE(infra_since, ?)');
    params.push(f.infraSince);
  }
  if (f.startedNow) sets.push('started_at = CURRENT_TIMESTAMP(3)');
  if (f.finishedNow) sets.push('finished_at = CURRENT_TIMESTAMP(3)');
  return { sets, params };
}

/** A job row as a Job. */
export function toJob(r: RowDataPacket): Job {
  return {
    id: String(r.id),
    engine: r.engine,
    filename: r.filename,
    size: Number(r.size),
    sha256: r.sha256,
    status: r.status,
    attempts: Number(r.attempts),
    lease: r.lease,
    reason: r.reason,
    summary: r.summary,
    resultSize: r.result_size === null ? null : Number(r.result_size),
    worker: r.worker,
    lastError: r.last_error,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    deadline: r.deadline,
    queued: Number(r.queued) === 1,
    infraSince: r.infra_since ?? null,
    containment: typeof r.containment === 'string' ? JSON.parse(r.containment) : (r.containment ?? null),
    owner: r.owner ?? null,
    retryOf: r.retry_of === null || r.retry_of === undefined ? null : String(r.retry_of),
    cached: Number(r.cached ?? 0) === 1,
    imageDigest: r.image_digest ?? null,
    callback: r.callback ?? null,
  };
}

import { isTerminal, type Job } from './job.js';

/** A job as API v1 shows it (GET /api/v1/jobs/<id> and each item of the listing). */
export interface JobRecord {
  jobid: string;
  engine: string;
  filename: string;
  size: number;
  sha256: string;
  status: Job['status'];
  reason: string;
  summary: string;
  link: string;
  log: string;
  attempts: number;
  created: string;
  started: string | null;
  finished: string | null;
  containment: unknown;
  owner: string | null;
  cached: boolean;
  retryOf: string | null;
  imageDigest: string | null;
}

/** Columns later migrations add to a job (result cache, retries, image digests); absent until then. */
interface LaterColumns {
  cached?: boolean;
  retryOf?: string | null;
  imageDigest?: string | null;
}

/**
 * The one job record builder: the public `GET /jobs/<id>` fields (describeJob gives those
 * alone) plus the owner and the cache, retry and image fields. One object literal: the
 * listing builds up to a hundred per request, and a record spread from a partial one cost
 * the frontend several times the allocation (bench/README.md, section 5).
 */
export function jobRecord(job: Job): JobRecord {
  const later = job as Job & LaterColumns;
  const done = isTerminal(job.status);
  return {
    jobid: job.id,
    engine: job.engine,
    filename: job.filename,
    size: job.size,
    sha256: job.sha256,
    status: job.status,
    reason: job.reason ?? '',
    summary: done ? job.summary : '',
    link: done ? `/link/${job.id}` : '',
    log: `/jobs/${job.id}/log`,
    attempts: job.attempts,
    created: job.createdAt.toISOString(),
    started: job.startedAt?.toISOString() ?? null,
    finished: job.finishedAt?.toISOString() ?? null,
    containment: job.containment ?? null,
    owner: job.owner,
    cached: later.cached ?? false,
    retryOf: later.retryOf ?? null,
    imageDigest: later.imageDigest ?? null,
  };
}

/** The detailed public view of a job (`GET /jobs/<id>` of the original API): the record without its later fields. */
export function describeJob(job: Job): Record<string, unknown> {
  const { owner: _owner, cached: _cached, retryOf: _retryOf, imageDigest: _imageDigest, ...shown } = jobRecord(job);
  return shown;
}

import { isJobId, JOB_STATUSES, STATUS, TERMINAL_STATUSES } from '../contract/ids.js';

/** Job statuses, as the original API names them (the wire list lives in the contract). */
export const STATUSES = JOB_STATUSES;
export type JobStatus = (typeof STATUSES)[number];

/** Each status by its role (use these, not string literals, in code and SQL). */
export { STATUS };

/**
 * A SQL list of statuses, e.g. `status IN (${sqlStatuses(TERMINAL)})`: the statuses are the
 * constants above, never input, so they are safe to write into a statement.
 */
export function sqlStatuses(statuses: readonly string[]): string {
  return statuses.map((s) => `'${s}'`).join(',');
}

/** The statuses nothing changes any more. */
export const TERMINAL = TERMINAL_STATUSES as readonly JobStatus[];

/** A job as stored: one upload to one engine. */
export interface Job {
  id: string;
  engine: string;
  filename: string;
  size: number;
  sha256: string;
  status: JobStatus;
  attempts: number;
  lease: string | null;
  reason: string | null;
  summary: string;
  resultSize: number | null;
  worker: string | null;
  lastError: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  deadline: Date | null;
  /** Whether the broker confirmed a message for the job's current wait (outbox flag). */
  queued: boolean;
  /** When an infrastructure outage first handed the job back (null if never). */
  infraSince: Date | null;
  /** The controls that were in force for the last run, read back from Docker. */
  containment: unknown;
  /** Whose job it is (the submitting token's owner); null when submitted to the open API. */
  owner: string | null;
  /** The job this one re-runs (POST /api/v1/jobs/<id>/retry), or null. */
  retryOf: string | null;
  /** Answered from an earlier job's result (the result cache), not run. */
  cached: boolean;
  /** The engine image (Docker image id) the job ran on, or the cached result was made by. */
  imageDigest: string | null;
  /** Where the final job record is POSTed when the job ends (webhook), or null. */
  callback: string | null;
}

/** Which jobs a caller may see: all, or only those of one owner. */
export interface JobScope {
  owner?: string;
}

/** Whether a job is in a caller's scope. */
export function inScope(job: Job, scope: JobScope): boolean {
  return scope.owner === undefined || job.owner === scope.owner;
}

/** Why a state changes: each event allows a fixed set of source states. */
export type JobEvent = 'start' | 'heartbeat' | 'requeue' | 'release' | 'succeed' | 'fail' | 'force-fail';

/**
 * The allowed transitions, in one table. `start` on a Running job is allowed only once its
 * lease has expired (the store checks the deadline): a new lease replaces the old one, and
 * the old worker's late completion is refused as stale. `requeue` marks a waiting job as
 * queued again (its message was published once more); `heartbeat` extends a live lease.
 */
export const TRANSITIONS: Readonly<Record<JobEvent, { from: readonly JobStatus[]; to: JobStatus }>> = {
  start: { from: [STATUS.waiting, STATUS.running], to: STATUS.running },
  heartbeat: { from: [STATUS.running], to: STATUS.running },
  requeue: { from: [STATUS.waiting], to: STATUS.waiting },
  release: { from: [STATUS.running], to: STATUS.waiting },
  succeed: { from: [STATUS.running], to: STATUS.success },
  fail: { from: [STATUS.running], to: STATUS.fail },
  'force-fail': { from: [STATUS.waiting, STATUS.running], to: STATUS.fail },
};

/** True for Success and Fail: nothing changes a finished job. */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.includes(status);
}

/** Whether `event` may happen to a job in `status`. */
export function canApply(event: JobEvent, status: JobStatus): boolean {
  return TRANSITIONS[event].from.includes(status);
}

/** Whether a string is a well-formed job id (a positive decimal integer, no leading zero). */
export { isJobId };

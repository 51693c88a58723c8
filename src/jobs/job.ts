import { isJobId, JOB_STATUSES } from '../contract/ids.js';

/** Job statuses, as the original API names them (the wire list lives in the contract). */
export const STATUSES = JOB_STATUSES;
export type JobStatus = (typeof STATUSES)[number];

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
  /** The controls that were in force for the last run, read back from Docker. */
  containment: unknown;
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
  start: { from: ['Received', 'Running'], to: 'Running' },
  heartbeat: { from: ['Running'], to: 'Running' },
  requeue: { from: ['Received'], to: 'Received' },
  release: { from: ['Running'], to: 'Received' },
  succeed: { from: ['Running'], to: 'Success' },
  fail: { from: ['Running'], to: 'Fail' },
  'force-fail': { from: ['Received', 'Running'], to: 'Fail' },
};

/** True for Success and Fail: nothing changes a finished job. */
export function isTerminal(status: JobStatus): boolean {
  return status === 'Success' || status === 'Fail';
}

/** Whether `event` may happen to a job in `status`. */
export function canApply(event: JobEvent, status: JobStatus): boolean {
  return TRANSITIONS[event].from.includes(status);
}

/** Whether a string is a well-formed job id (a positive decimal integer, no leading zero). */
export { isJobId };

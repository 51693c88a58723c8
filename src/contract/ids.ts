/** Job statuses, as the original API names them (the public and the internal API show them). */
export const JOB_STATUSES = ['Received', 'Running', 'Success', 'Fail'] as const;

/** A job id: a positive decimal integer without leading zero, at most 18 digits (fits BIGINT). */
export const JOB_ID_PATTERN = '^[1-9][0-9]{0,17}$';

/** A lease: 16 random bytes in lower-case hex, handed out by the frontend on start. */
export const LEASE_PATTERN = '^[0-9a-f]{32}$';

const JOB_ID = new RegExp(JOB_ID_PATTERN);
const LEASE = new RegExp(LEASE_PATTERN);

/** Whether a string is a well-formed job id. */
export function isJobId(value: string): boolean {
  return JOB_ID.test(value);
}

/** Whether a string is a well-formed lease. */
export function isLease(value: string): boolean {
  return LEASE.test(value);
}

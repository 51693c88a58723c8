import { InvalidError } from '../errors.js';

/** How long a key answers with the jobs it created. */
export const IDEMPOTENCY_TTL_MS = 24 * 3600_000;

/** How long a first request may take to create its jobs before its key is taken as abandoned. */
export const PENDING_TTL_MS = 10 * 60_000;

/** A key: 1 to 255 visible ASCII characters (as the IETF draft's examples: UUIDs, random strings). */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header, checked; undefined when the request has none. */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  if (!KEY.test(header)) throw new InvalidError('INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  return header;
}

/** What a request asks for, as its key's row records it. */
export interface KeyedRequest {
  /** Engine names, in the order requested, joined by commas. */
  engines: string;
  /** sha256 of the uploaded file. */
  sha256: string;
}

/** One job a keyed request created. */
export interface KeyedJob {
  engine: string;
  jobid: string;
  cached: boolean;
}

/** A key's row as stored: what it was first used for and (once created) its jobs. */
export interface KeyRecord extends KeyedRequest {
  jobs: KeyedJob[] | null;
  createdAt: Date;
}

/**
 * What a request with a key already on record gets: the earlier jobs (a replay), a refusal
 * when the key was used for another request, or a wait while the first one is still creating
 * them. A record older than the TTL no longer counts (the caller replaces it).
 */
export function judgeKey(record: KeyRecord, request: KeyedRequest, now: number): 'replay' | 'reused' | 'pending' | 'expired' {
  const age = now - record.createdAt.getTime();
  if (age >= IDEMPOTENCY_TTL_MS) return 'expired';
  // A first request that died before recording its jobs (a crash) does not hold its key forever.
  if (record.jobs === null && age >= PENDING_TTL_MS) return 'expired';
  if (record.engines !== request.engines || record.sha256 !== request.sha256) return 'reused';
  return record.jobs === null ? 'pending' : 'replay';
}

/** The scope a key belongs to: the token, or in the open mode the client's address. */
export function keyScope(principal: { kind: 'token'; tokenId: string } | { kind: 'open' }, address: string): string {
  return principal.kind === 'token' ? `token:${principal.tokenId}` : `addr:${address}`.slice(0, 100);
}

import type { Context } from 'koa';
import type { Engine } from '../engines/engines.js';
import { InvalidError, TooLargeError, UnavailableError } from '../errors.js';
import { keyScope, parseIdempotencyKey, type KeyedJob } from '../jobs/idempotency.js';
import type { SubmitRequest } from '../jobs/submission.js';
import type { FileStore } from '../storage/file-store.js';
import { checkCallback } from '../webhooks/callback.js';
import { noteCreatedJobs } from './access-log.js';
import { principalOf } from './auth.js';
import { RateLimiter, type RateLimits } from './rate-limit.js';
import { receiveUpload } from './upload.js';

/** Room for multipart framing when judging a Content-Length against a size limit. */
const MULTIPART_SLACK = 64 * 1024;

/** Bounds shared by every upload route: uploads at once, and a rate per caller. */
export class UploadGate {
  readonly #max: number;
  readonly #rate: RateLimiter;
  #active = 0;
  /** Told of every sample received: how long the upload stage took and its size (metrics). */
  readonly uploaded: ((seconds: number, bytes: number) => void) | undefined;

  constructor(maxConcurrent: number, rate: RateLimits, uploaded?: (seconds: number, bytes: number) => void) {
    this.#max = maxConcurrent;
    this.#rate = new RateLimiter(rate);
    this.uploaded = uploaded;
  }

  /**
   * Runs an upload within the bounds. Beyond them the body is not read: the client tries
   * again later (the error middleware closes the connection, or drops a small rest).
   */
  async run(ctx: Context, fn: () => Promise<void>): Promise<void> {
    const principal = principalOf(ctx);
    this.#rate.take(principal.kind === 'token' ? `token:${principal.tokenId}` : `addr:${ctx.request.socket.remoteAddress ?? ''}`);
    if (this.#active >= this.#max) throw new UnavailableError('TOO_MANY_UPLOADS', 'too many uploads at once; try again later');
    this.#active++;
    try {
      await fn();
    } finally {
      this.#active--;
    }
  }
}

/** What a submission asks for besides the file, read from the query and headers before the body. */
export interface SubmitOptions {
  force: boolean;
  callback: string | null;
  idempotency?: { scope: string; key: string };
}

/** Reads `force`, `callback` and the Idempotency-Key header; a bad one is a 400 before the body is read. */
export function submitOptions(ctx: Context, allowedPrefixes: readonly string[]): SubmitOptions {
  const force = one(ctx, 'force');
  if (force !== undefined && !['0', '1', 'true', 'false'].includes(force)) {
    throw new InvalidError('INVALID_PARAMETER', 'force must be 1, true, 0 or false');
  }
  const callback = checkCallback(one(ctx, 'callback'), allowedPrefixes);
  const key = parseIdempotencyKey(ctx.get('idempotency-key') || undefined);
  return {
    force: force === '1' || force === 'true', callback,
    ...(key ? { idempotency: { scope: keyScope(principalOf(ctx), ctx.request.socket.remoteAddress ?? ''), key } } : {}),
  };
}

/** A query parameter given at most once. */
export function one(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw new InvalidError('INVALID_PARAMETER', `${name} is given more than once`);
  return v;
}

/**
 * Receives the `upload` field for `engines` (the smallest of their size limits applies) and
 * submits it; the temporary file is gone whatever happens.
 */
export async function receiveAndSubmit(ctx: Context, d: { files: FileStore; submit: (r: SubmitRequest) => Promise<KeyedJob[]>; idleMs: number;
  uploaded?: ((seconds: number, bytes: number) => void) | undefined; },
  engines: readonly Engine[], options: SubmitOptions, owner: string | null): Promise<KeyedJob[]> {
  const smallest = engines.reduce((a, b) => (b.sizelimit < a.sizelimit ? b : a));
  const limit = smallest.sizelimit;
  const tooLarge = (): TooLargeError => new TooLargeError(`upload is larger than the limit of ${limit} bytes for engine ${smallest.name}`);
  if (Number(ctx.get('content-length') || 0) > limit + MULTIPART_SLACK) throw tooLarge();
  let received;
  const started = performance.now();
  try {
    received = await receiveUpload(ctx.req, d.files, { field: 'upload', limit, idleMs: d.idleMs });
    d.uploaded?.((performance.now() - started) / 1000, received.written.size);
  } catch (err) {
    throw err instanceof TooLargeError ? tooLarge() : err;
  }
  try {
    const jobs = await d.submit({ engines, upload: received.written, filename: received.filename, owner, ...options });
    noteCreatedJobs(ctx, jobs.map((j) => j.jobid));
    return jobs;
  } finally {
    // A submission moves the file into its last job (one rename, no link and unlink).
    if (!received.written.moved) await d.files.discard(received.written.path);
  }
}

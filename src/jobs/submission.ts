import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../engines/engines.js';
import { ConflictError } from '../errors.js';
import type { FileStore, Written } from '../storage/file-store.js';
import { CANCELLED_REASON } from './control.js';
import { judgeKey, type KeyedJob } from './idempotency.js';
import type { IdempotencyStore } from './idempotency-store.js';
import type { ResultCacheStore } from './result-cache.js';
import type { JobService } from './service.js';

/** The image digest each engine runs now, as the workers report it (null: unknown). */
export interface DigestSource {
  digest(engine: string): string | null;
}

/** One upload to one or more engines. */
export interface SubmitRequest {
  engines: readonly Engine[];
  /** The received file (a temporary file the caller removes afterwards, unless it was moved into the last job: `upload.moved`). */
  upload: Written;
  filename: string;
  owner: string | null;
  /** Run even if the result cache has an answer (`force=1`). */
  force: boolean;
  callback: string | null;
  idempotency?: { scope: string; key: string };
}

export interface SubmissionDeps {
  service: JobService;
  files: FileStore;
  cache: ResultCacheStore;
  keys: IdempotencyStore;
  digests: DigestSource;
  /** How long a request waits for a concurrent one with the same key to create its jobs. */
  pendingWaitMs?: number;
  /** Told of every job answered from the result cache (the frontend's metrics). */
  cached?: (engine: string) => void;
}

/**
 * Submissions: one upload, one job per engine, the input stored once (hard links), answered
 * from the result cache where the engine allows it, and made idempotent by a key.
 */
export class Submissions {
  readonly #d: SubmissionDeps;

  constructor(deps: SubmissionDeps) {
    this.#d = deps;
  }

  /** Creates (or, for a key on record, finds) the request's jobs. */
  async submit(req: SubmitRequest): Promise<KeyedJob[]> {
    if (!req.idempotency) return this.#create(req);
    const { scope, key } = req.idempotency;
    const request = { engines: req.engines.map((e) => e.name).join(','), sha256: req.upload.sha256 };
    const until = Date.now() + (this.#d.pendingWaitMs ?? 30_000);
    for (;;) {
      if (await this.#d.keys.claim(scope, key, request)) return this.#createClaimed(req, scope, key);
      const record = await this.#d.keys.get(scope, key);
      const verdict = record ? judgeKey(record, request, Date.now()) : 'released';
      if (verdict === 'replay' && record?.jobs) return record.jobs;
      if (verdict === 'reused') {
        throw new ConflictError('IDEMPOTENCY_KEY_REUSED',
          `Idempotency-Key "${key}" was used for another request (engines ${record?.engines}, another file) in the last 24 hours`);
      }
      if (verdict === 'expired' && record) await this.#d.keys.replace(scope, key, record.createdAt);
      if (Date.now() > until) throw new ConflictError('IDEMPOTENCY_KEY_IN_USE', `a request with Idempotency-Key "${key}" is still being processed; try again`);
      if (verdict === 'pending') await sleep(100);
    }
  }

  async #createClaimed(req: SubmitRequest, scope: string, key: string): Promise<KeyedJob[]> {
    let jobs: KeyedJob[];
    try {
      jobs = await this.#create(req);
    } catch (err) {
      await this.#d.keys.release(scope, key).catch(() => undefined);
      throw err;
    }
    await this.#d.keys.complete(scope, key, jobs);
    return jobs;
  }

  /** One job per engine; if one cannot be created, those already queued are cancelled. */
  async #create(req: SubmitRequest): Promise<KeyedJob[]> {
    const jobs: KeyedJob[] = [];
    try {
      for (const [i, engine] of req.engines.entries()) {
        const digest = engine.cache && !req.force ? this.#d.digests.digest(engine.name) : null;
        const cached = digest ? await this.#fromCache(engine, digest, req) : undefined;
        // The last job moves the upload in rather than linking it: the caller then has nothing to remove.
        const take = i === req.engines.length - 1;
        const jobid = cached ?? await this.#d.service.submit(engine, req.upload, req.filename, req.owner, { callback: req.callback, take });
        jobs.push({ engine: engine.name, jobid, cached: cached !== undefined });
        if (cached !== undefined) this.#d.cached?.(engine.name);
      }
    } catch (err) {
      for (const j of jobs.filter((x) => !x.cached)) {
        await this.#d.service.fail(j.jobid, undefined, CANCELLED_REASON, 'the submission it belonged to failed').catch(() => undefined);
      }
      throw err;
    }
    return jobs;
  }

  /**
   * A new job answered from the newest earlier Success of this engine, file and image: the
   * result (and engine output) shared by hard link. Undefined when there is none, or its
   * result is no longer stored.
   */
  async #fromCache(engine: Engine, digest: string, req: SubmitRequest): Promise<string | undefined> {
    const { files, cache } = this.#d;
    const from = await cache.find(engine.name, req.upload.sha256, digest);
    const result = from && (await files.share(from.id, 'result'));
    if (!from || !result) return undefined;
    const log = await files.share(from.id, 'log');
    try {
      const id = await cache.create({ engine: engine.name, filename: req.filename, size: req.upload.size, sha256: req.upload.sha256,
        owner: req.owner, callback: req.callback }, from);
      try {
        await files.link(req.upload.path, id, 'input');
        if (log) await files.place(id, log, 'log');
        await files.place(id, result, 'result');
      } catch (err) {
        await cache.remove(id).catch(() => undefined);
        await files.removeJob(id).catch(() => undefined);
        throw err;
      }
      return id;
    } finally {
      await files.discard(result);
      if (log) await files.discard(log);
    }
  }
}

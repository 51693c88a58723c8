import { randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { LOG_LIMIT, type JobView, type StartedJob } from '../contract/internal-api.js';
import type { Engine } from '../engines/engines.js';
import { engineLookup, type EngineLookup } from '../engines/registry.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { FileStore, StoredFile, Written } from '../storage/file-store.js';
import { JobWatch } from './job-watch.js';
import { inScope, isTerminal, STATUS, type Job, type JobScope } from './job.js';
import type { ListQuery } from './listing.js';
import type { JobStore, NewJob } from './store.js';
import { summarize } from './summary.js';
import { jobLogger, silentLogger, type Logger } from '../log/logger.js';

/** Queues a job for its engine; resolves once the broker has it. */
export interface JobQueue {
  publish(message: { jobId: string; engine: string }): Promise<void>;
}

/** The public view of a job, in the original API's shape (the contract's answer to completions too). */
export type { JobView };

export interface JobServiceDeps {
  store: JobStore;
  files: FileStore;
  queue: JobQueue;
  /** The engines: a fixed list, or a registry that reloads replace (src/engines/registry.ts). */
  engines: readonly Engine[] | EngineLookup;
  maxAttempts: number;
  graceMs: number;
  /** How long a lease lasts without a heartbeat. */
  leaseMs: number;
  /** How long outages of our own services may keep handing a job back before it fails. */
  infrastructureTimeoutMs?: number;
  /** Where the job events go (accepted, started, finished, handed back); nowhere when absent. */
  log?: Logger;
  /** Told of stage timings and of every job that reaches a final status (the frontend's metrics). */
  observer?: JobObserver;
}

/** What the job lifecycle reports for metrics. */
export interface JobObserver {
  /** A submission stage took `seconds`: store (job row and input link), publish (until the broker confirms). */
  stage(stage: 'store' | 'publish', seconds: number): void;
  /** A job reached a final status. */
  finished(job: Job): void;
}

/** A job in the `/result/<id>` shape. */
export function jobView(job: Job): JobView {
  const done = isTerminal(job.status);
  return { status: job.status, summary: done ? job.summary : '', link: done ? `/link/${job.id}` : '' };
}

/** What clients read for a job that infrastructure kept failing (the detail is for operators). */
export const INFRASTRUCTURE_TEXT = 'the appliance could not run this job because of a problem on its side; operators can see the cause';
/** The public reason of a job that outages kept from running; its detail is fixed text. */
export const INFRASTRUCTURE_REASON = 'infrastructure unavailable';

/** Limits text written for a failure (reason + engine output) to this many bytes. */
const ERROR_TEXT_LIMIT = 1024 * 1024;

/**
 * The job lifecycle: submission, start, completion, failure and hand-back, reading results.
 * HTTP routes and the reaper call this; it alone combines the job store, the file store and
 * the queue, and every state change goes through JobStore.apply.
 */
export class JobService {
  /** Requests waiting for a job to end (`?wait=`): woken when this service ends one. */
  readonly watch = new JobWatch();
  readonly #d: JobServiceDeps;
  readonly #engines: EngineLookup;
  readonly #log: Logger;

  constructor(deps: JobServiceDeps) {
    this.#d = deps;
    this.#engines = engineLookup(deps.engines);
    this.#log = deps.log ?? silentLogger();
  }

  /** The logger of one job: its lines carry jobid, engine and attempt. */
  #jobLog(job: Pick<Job, 'id' | 'engine' | 'attempts'>): Logger {
    return jobLogger(this.#log, { jobid: job.id, engine: job.engine, attempt: job.attempts });
  }

  /** The engine named `name` that takes uploads, or a 404 (also for an engine a reload removed). */
  engine(name: string): Engine {
    const e = this.#engines.active(name);
    if (!e) throw new NotFoundError('UNKNOWN_ENGINE', `no engine named "${name}"`);
    return e;
  }

  /** The engine of a job already accepted (its engine may have been removed since), or a 404. */
  #engineOf(name: string): Engine {
    const e = this.#engines.get(name);
    if (!e) throw new NotFoundError('UNKNOWN_ENGINE', `no engine named "${name}"`);
    return e;
  }

  /**
   * Records an upload already written to a temporary file, then queues it. The input is a
   * hard link to the temporary file (the caller removes that), so several jobs can share it;
   * with `take` the file is moved in instead (the caller's last use of it: `upload.moved`
   * says whether it is gone, then nothing is left to remove).
   */
  async submit(engine: Engine, upload: Written, filename: string, owner: string | null = null,
    extra: Pick<NewJob, 'retryOf' | 'callback'> & { take?: boolean } = {}): Promise<string> {
    const started = performance.now();
    const { take, ...fields } = extra;
    const id = await this.#d.store.create({ engine: engine.name, filename, size: upload.size, sha256: upload.sha256, owner, ...fields });
    try {
      if (take) await this.#d.files.take(upload, id, 'input');
      else await this.#d.files.link(upload.path, id, 'input');
      const stored = performance.now();
      await this.#d.queue.publish({ jobId: id, engine: engine.name });
      this.#d.observer?.stage('store', (stored - started) / 1000);
      this.#d.observer?.stage('publish', (performance.now() - stored) / 1000);
      await this.#d.store.markQueued(id);
    } catch (err) {
      // Nothing may stay behind for a job that will never run (unless a worker already
      // took it: then it runs to the end, though its client was told to try again).
      if (await this.#d.store.removeAbandoned(id).catch(() => false)) await this.#d.files.removeJob(id).catch(() => undefined);
      throw err;
    }
    this.#jobLog({ id, engine: engine.name, attempts: 0 }).info({ filename, size: upload.size, sha256: upload.sha256 }, 'job accepted');
    return id;
  }

  /** A job, or a 404 (also for a job outside the caller's scope: its existence is not told). */
  async get(id: string, scope: JobScope = {}): Promise<Job> {
    const job = await this.#d.store.get(id);
    if (!job || !inScope(job, scope)) throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
    return job;
  }

  /** A page of jobs in the caller's scope, newest first (GET /api/v1/jobs). */
  async list(query: ListQuery, scope: JobScope = {}): Promise<Job[]> {
    return this.#d.store.list(scope.owner === undefined ? query : { ...query, owner: scope.owner });
  }

  /** The `/result/<id>` view. */
  async view(id: string, scope: JobScope = {}): Promise<JobView> {
    return jobView(await this.get(id, scope));
  }

  /** The bytes behind `/link/<id>`: the result of a Success, the error text of a Fail. */
  async openLink(id: string, scope: JobScope = {}): Promise<{ stream: ReadStream; size: number; job: Job }> {
    const job = await this.get(id, scope);
    if (!isTerminal(job.status)) throw new ConflictError('JOB_NOT_FINISHED', `job ${id} is ${job.status}; no result yet`);
    const file: StoredFile = job.status === STATUS.success ? 'result' : 'error';
    let opened = await this.#d.files.open(id, file);
    if (!opened && job.lease && (await this.#d.files.recover(id, file, job.lease))) opened = await this.#d.files.open(id, file);
    if (!opened) throw new NotFoundError('RESULT_MISSING', `the ${file} of job ${id} is no longer stored`);
    return { ...opened, job };
  }

  /** The input of a job, for a worker. */
  async openInput(id: string): Promise<{ stream: ReadStream; size: number }> {
    await this.get(id);
    const opened = await this.#d.files.open(id, 'input');
    if (!opened) throw new NotFoundError('INPUT_MISSING', `the input of job ${id} is no longer stored`);
    return opened;
  }

  /** Gives a worker a new lease on a job; refuses finished jobs and spent attempts. */
  async start(id: string, worker: string): Promise<StartedJob> {
    const job = await this.get(id);
    const engine = this.#engineOf(job.engine);
    const lease = randomBytes(16).toString('hex');
    const deadline = new Date(Date.now() + Math.min(this.#d.leaseMs, engine.timeoutMs + this.#d.graceMs));
    const res = await this.#d.store.apply(id, 'start',
      { lease, worker: worker.slice(0, 128), deadline, incrementAttempts: true, startedNow: true, containerId: null },
      { maxAttempts: this.#d.maxAttempts, runningOnlyIfExpired: true });
    if (res.kind === 'applied') {
      this.#jobLog(res.job).info({ worker: worker.slice(0, 128) }, 'job started');
      return { jobid: id, engine: engine.name, lease, attempt: res.job.attempts, size: res.job.size,
        deadline: deadline.toISOString(), heartbeatMs: Math.max(1000, Math.floor(this.#d.leaseMs / 3)) };
    }
    if (res.kind === 'missing') throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
    if (res.job.status === STATUS.running && (res.job.deadline?.getTime() ?? 0) > Date.now()) {
      throw new ConflictError('JOB_BUSY', `job ${id} is running under another lease until ${res.job.deadline?.toISOString()}`);
    }
    if (!isTerminal(res.job.status)) {
      // The last error (driver messages, paths) stays in the job row for operators (the
      // internal GET shows it); clients get a fixed text.
      await this.fail(id, undefined, `gave up after ${res.job.attempts} attempts`, INFRASTRUCTURE_TEXT);
    }
    throw new ConflictError('JOB_FINISHED', `job ${id} is already finished`);
  }

  /**
   * Renews a worker's lease; refused (409) when the lease is no longer current, so a worker
   * that lost its job stops. A lease never outlives the engine timeout plus grace.
   */
  async heartbeat(id: string, lease: string): Promise<{ deadline: string }> {
    const job = await this.get(id);
    const engine = this.#engineOf(job.engine);
    const hardStop = (job.startedAt?.getTime() ?? Date.now()) + engine.timeoutMs + this.#d.graceMs;
    const deadline = new Date(Math.min(Date.now() + this.#d.leaseMs, hardStop));
    const res = await this.#d.store.apply(id, 'heartbeat', { deadline }, { lease });
    if (res.kind !== 'applied') throw new ConflictError('STALE_LEASE', `job ${id} is no longer held by this lease`);
    return { deadline: deadline.toISOString() };
  }

  /**
   * Records a worker's result, streamed from `body`, if its lease is current; with `output`
   * (the engine's output, sent in the same call) that is stored first, as `saveLog` would.
   */
  async succeed(id: string, lease: string, body: Readable, containment?: unknown, output?: Buffer): Promise<JobView> {
    const job = await this.get(id);
    const engine = this.#engineOf(job.engine);
    if (output?.length) await this.#storeLog(job, lease, Readable.from([output]), output.length);
    const staging = await this.#d.files.stage(id, 'result', lease);
    const written = await this.#d.files.write(staging, body, engine.containment.resultLimit, 'result');
    const res = await this.#d.store.apply(id, 'succeed',
      { summary: summarize(written.head), resultSize: written.size, finishedNow: true, deadline: null, containment }, { lease });
    return this.#settle(id, 'result', staging, res);
  }

  /**
   * Fails a job with a reason and optional detail (engine output). With a lease only the
   * lease holder may; without one (reaper, policy) it applies to any unfinished job.
   */
  async fail(id: string, lease: string | undefined, reason: string, detail = '', containment?: unknown, detailIsLog = false): Promise<JobView> {
    // The worker's failure carries the engine's output as its detail: kept as the log too.
    if (detailIsLog && lease !== undefined && detail) await this.saveLog(id, lease, Readable.from([Buffer.from(detail)]), LOG_LIMIT);
    const text = detail ? `${reason}\n${detail}` : `${reason}\n`;
    const tag = lease ?? `forced-${randomBytes(8).toString('hex')}`;
    const staging = await this.#d.files.stage(id, 'error', tag);
    const written = await this.#d.files.write(staging, Readable.from([Buffer.from(text).subarray(0, ERROR_TEXT_LIMIT)]),
      ERROR_TEXT_LIMIT, 'error text');
    const fields = { reason, summary: summarize(written.head), finishedNow: true, deadline: null, containment };
    const res = lease === undefined
      ? await this.#d.store.apply(id, 'force-fail', { ...fields, lease: tag })
      : await this.#d.store.apply(id, 'fail', fields, { lease });
    return this.#settle(id, 'error', staging, res);
  }

  /** Stores the engine's output (stdout and stderr, capped) for the lease holder. */
  async saveLog(id: string, lease: string, body: Readable, limit: number): Promise<void> {
    await this.#storeLog(await this.get(id), lease, body, limit);
  }

  /** Writes the engine's output of `job` for the holder of `lease` (a 409 for anyone else). */
  async #storeLog({ id, lease: held }: Job, lease: string, body: Readable, limit: number): Promise<void> {
    if (held !== lease) throw new ConflictError('STALE_LEASE', `job ${id} is no longer held by this lease`);
    const staging = await this.#d.files.stage(id, 'log', lease);
    await this.#d.files.write(staging, body, limit, 'engine output');
    await this.#d.files.commit(id, 'log', staging);
  }

  /** The engine output kept for a job (empty if the engine printed nothing). */
  async openLog(id: string, scope: JobScope = {}): Promise<{ stream: ReadStream | Readable; size: number }> {
    await this.get(id, scope);
    return (await this.#d.files.open(id, 'log')) ?? { stream: Readable.from([]), size: 0 };
  }

  /**
   * A worker hands a job back; it will run again. With `infrastructure` (an outage of our
   * own services, not the job's fault) the attempt is given back and a fresh message is
   * published, so neither attempts nor deliveries are spent; the worker acks its own. Such
   * hand-backs fail the job only once the first of them is older than the configured timeout.
   */
  async release(id: string, lease: string, error: string, infrastructure = false): Promise<JobView> {
    const fields = infrastructure
      ? { lease: null, lastError: error, deadline: null, queued: false, refundAttempt: true, infraSince: new Date() }
      : { lease: null, lastError: error, deadline: null };
    const res = await this.#d.store.apply(id, 'release', fields, { lease });
    if (res.kind === 'missing') throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
    if (res.kind === 'conflict') throw new ConflictError('STALE_LEASE', `job ${id} is no longer held by this lease`);
    this.#jobLog(res.job).warn({ infrastructure, error }, `job ${id} handed back${infrastructure ? ' (infrastructure)' : ''}: ${error}`);
    if (infrastructure && !(await this.#infrastructureExpired(res.job))) {
      // If the broker is away too, the reaper publishes it later (the row says unqueued).
      await this.#republish(res.job).catch(() => undefined);
    }
    return this.view(id);
  }

  /** Fails a job whose outages have lasted longer than the timeout; true if it did. */
  async #infrastructureExpired(job: Job): Promise<boolean> {
    const since = job.infraSince?.getTime();
    const limit = this.#d.infrastructureTimeoutMs ?? 1800_000;
    if (since === undefined || Date.now() - since < limit || isTerminal(job.status)) return false;
    await this.fail(job.id, undefined, INFRASTRUCTURE_REASON,
      `the appliance's own services (Docker, the frontend or the broker) kept the job from running for more than ${Math.round(limit / 1000)} s`)
      .catch((err: unknown) => {
        if (!(err instanceof ConflictError)) throw err;
      });
    return true;
  }

  async #republish(job: Job): Promise<'requeued' | 'skipped'> {
    await this.#d.queue.publish({ jobId: job.id, engine: job.engine });
    const res = await this.#d.store.apply(job.id, 'requeue', { queued: true });
    return res.kind === 'applied' ? 'requeued' : 'skipped';
  }

  /**
   * Deals with a job the reaper found (JobStore.listReapable). A Running job whose lease
   * expired goes back to the queue while attempts remain, else fails. A Received job whose
   * message was never confirmed is either a retry, published again, or a submission cut
   * short before its client got an id, removed with its files.
   */
  async reap(job: Job): Promise<'requeued' | 'failed' | 'removed' | 'skipped'> {
    // A job of an engine a reload removed is not queued again: nothing consumes its queue.
    const engine = this.#engines.active(job.engine);
    if (!engine) {
      await this.fail(job.id, undefined, `engine "${job.engine}" is no longer configured`);
      return 'failed';
    }
    if (await this.#infrastructureExpired(job)) return 'failed';
    if (job.status === STATUS.waiting && job.queued) return 'skipped';
    if (job.status === STATUS.waiting && job.attempts === 0 && !job.startedAt) {
      if (!(await this.#d.store.removeAbandoned(job.id))) return 'skipped';
      await this.#d.files.removeJob(job.id);
      return 'removed';
    }
    if (job.status === STATUS.running) {
      if (job.attempts >= this.#d.maxAttempts) {
        await this.fail(job.id, undefined, 'timeout', `no completion within the engine timeout plus grace after ${job.attempts} attempts`);
        return 'failed';
      }
      const res = await this.#d.store.apply(job.id, 'release',
        { lease: null, deadline: null, queued: false, lastError: 'lease expired: the worker stopped answering' }, { lease: job.lease ?? '' });
      if (res.kind !== 'applied') return 'skipped';
    }
    return this.#republish(job);
  }

  /**
   * A job's message was dead-lettered (delivered too often without finishing, or refused
   * by a worker): fail the job if it is not finished, so it cannot wait forever.
   */
  async deadLettered(id: string, deliveries: number): Promise<void> {
    const job = await this.#d.store.get(id);
    if (!job || isTerminal(job.status)) return;
    await this.fail(id, undefined, 'dead-lettered', `its queue message was dead-lettered after ${deliveries} deliveries`).catch((err: unknown) => {
      if (!(err instanceof ConflictError)) throw err;
    });
  }

  async #settle(id: string, file: StoredFile, staging: string, res: Awaited<ReturnType<JobStore['apply']>>): Promise<JobView> {
    if (res.kind !== 'applied') await this.#d.files.discard(staging);
    if (res.kind === 'missing') throw new NotFoundError('JOB_NOT_FOUND', `no job with id ${id}`);
    if (res.kind === 'conflict') {
      const why = isTerminal(res.job.status) ? 'JOB_FINISHED' : 'STALE_LEASE';
      throw new ConflictError(why, `job ${id} is ${res.job.status}; this completion was not recorded`);
    }
    if (res.kind === 'applied') {
      await this.#d.files.commit(id, file, staging);
      await this.#d.files.dropStaging(id, ['result', 'error']);
      this.#d.observer?.finished(res.job);
      this.watch.ended(id);
      this.#jobLog(res.job).info({ status: res.job.status, ...(res.job.reason ? { reason: res.job.reason } : {}) }, `job ${file === 'result' ? 'succeeded' : 'failed'}`);
    }
    return jobView(res.job);
  }
}

import { ConflictError, NotFoundError } from '../errors.js';
import type { FileStore, Written } from '../storage/file-store.js';
import { isTerminal, type Job, type JobScope } from './job.js';
import type { JobService } from './service.js';
import { jobLogger, type Logger } from '../log/logger.js';

/** The reason a cancelled job ends with. */
export const CANCELLED_REASON = 'cancelled';

/** Tells the workers at once that a job was cancelled (a running container is killed). */
export interface CancelNotifier {
  cancelled(message: { jobId: string; engine: string }): Promise<void>;
}

/** What cancel and retry need. */
export interface JobControlDeps {
  service: JobService;
  files: FileStore;
  notifier?: CancelNotifier;
  log: Logger;
}

/**
 * Cancelling and retrying jobs. A cancel fails the job (reason `cancelled`) through the same
 * conditional update as every other state change, so a worker that takes its message later
 * finds it finished, and a running worker's lease is replaced: its heartbeat and result are
 * refused. The broadcast only makes the running container stop at once, not a heartbeat later.
 */
export class JobControl {
  readonly #d: JobControlDeps;

  constructor(deps: JobControlDeps) {
    this.#d = deps;
  }

  /** Cancels a job in the caller's scope; 409 JOB_FINISHED once it has ended. */
  async cancel(id: string, scope: JobScope, by: string): Promise<Job> {
    const job = await this.#d.service.get(id, scope);
    const finished = (): ConflictError => new ConflictError('JOB_FINISHED', `job ${id} has already finished; it cannot be cancelled`);
    if (isTerminal(job.status)) throw finished();
    await this.#d.service.fail(id, undefined, CANCELLED_REASON, `the job was cancelled by ${by} while ${job.status}`).catch((err: unknown) => {
      throw err instanceof ConflictError ? finished() : err;
    });
    // Best effort, not awaited (the cancel is already recorded; a broker reconnecting must not
    // hold the answer): if it fails, the worker's next heartbeat is refused and stops the run.
    this.#d.notifier?.cancelled({ jobId: id, engine: job.engine })
      .catch((err: Error) => jobLogger(this.#d.log, { jobid: id, engine: job.engine, attempt: job.attempts }).warn({ err }, `job ${id}: cancel broadcast failed (the next heartbeat stops it): ${err.message}`));
    return this.#d.service.get(id);
  }

  /**
   * A new job with the same input (a hard link: the old job keeps its own) and engine,
   * recorded under the caller and as a retry of `id`. Never answered from the result cache.
   */
  async retry(id: string, scope: JobScope, owner: string | null, callback: string | null): Promise<string> {
    const job = await this.#d.service.get(id, scope);
    const engine = this.#d.service.engine(job.engine);
    const input = await this.#d.files.share(id, 'input');
    if (!input) throw new NotFoundError('INPUT_MISSING', `the input of job ${id} is no longer stored`);
    const upload: Written = { path: input, size: job.size, sha256: job.sha256, head: Buffer.alloc(0) };
    try {
      return await this.#d.service.submit(engine, upload, job.filename, owner, { retryOf: id, callback, take: true });
    } finally {
      if (!upload.moved) await this.#d.files.discard(input);
    }
  }
}

import { ConflictError } from '../errors.js';
import { STATUS, type Job } from './job.js';
import type { JobService } from './service.js';

/** The reason a job gets when its engine is removed before the job started. */
export const ENGINE_REMOVED = 'engine removed';

const PAGE = 200;

/**
 * Fails the jobs still waiting (Received) for engines that no longer take uploads: a removed
 * engine's queue has no consumer, so they would wait forever. `gone` says which engines are
 * gone; only `engines` given are scanned when it is a list (a reload's removals), every
 * waiting job when it is undefined (start-up, after engines.json lost an engine). Running
 * jobs are left to finish (menage drains a removed engine's slots). Returns how many failed.
 */
export async function failWaitingJobsOfRemovedEngines(service: JobService, gone: (engine: string) => boolean, engines?: readonly string[]): Promise<number> {
  let failed = 0;
  for (const engine of engines ?? [undefined]) {
    let beforeId: string | undefined;
    for (;;) {
      const page: Job[] = await service.list({ statuses: [STATUS.waiting], limit: PAGE, ...(engine ? { engine } : {}), ...(beforeId ? { beforeId } : {}) });
      for (const job of page) {
        if (gone(job.engine) && (await failIfWaiting(service, job, gone))) failed++;
      }
      if (page.length < PAGE) break;
      beforeId = page[page.length - 1]!.id;
    }
  }
  return failed;
}

async function failIfWaiting(service: JobService, job: Job, gone: (engine: string) => boolean): Promise<boolean> {
  // Read again: a menage may have started it meanwhile (then it runs to its end), and the
  // engine may be back (a later reload).
  const now = await service.get(job.id);
  if (now.status !== STATUS.waiting || !gone(now.engine)) return false;
  try {
    await service.fail(job.id, undefined, ENGINE_REMOVED, `engine "${job.engine}" was removed from engines.json before this job started`);
    return true;
  } catch (err) {
    if (err instanceof ConflictError) return false;
    throw err;
  }
}

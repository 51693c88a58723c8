import type { JobStore } from '../jobs/store.js';
import type { FileStore } from '../storage/file-store.js';
import type { Logger } from '../log/logger.js';

export interface RetentionOptions {
  store: JobStore;
  files: FileStore;
  days: number;
  /** Folders without a row are removed only once older than this (an upload may be in progress). */
  strayAgeMs?: number;
  batch?: number;
  dryRun?: boolean;
  log: Logger;
}

/** What a retention run removed (or, dry, would remove). */
export interface RetentionReport {
  jobs: number;
  strayFolders: number;
}

/**
 * Removes finished jobs older than the retention: the row first, then the files, so a row
 * never points at missing files. Folders left without a row (a crash between the two, or
 * an old bug) are swept afterwards, so no file outlives its row for long either.
 */
export async function runRetention(o: RetentionOptions): Promise<RetentionReport> {
  const before = new Date(Date.now() - o.days * 86_400_000);
  const batch = o.batch ?? 500;
  const report: RetentionReport = { jobs: 0, strayFolders: 0 };
  for (;;) {
    const ids = await o.store.listFinishedBefore(before, batch);
    for (const id of ids) {
      if (o.dryRun || (await o.store.removeFinished(id, before))) {
        if (!o.dryRun) await o.files.removeJob(id);
        report.jobs++;
      }
    }
    if (ids.length < batch || o.dryRun) break;
  }
  const folders = (await o.files.listJobs()).filter((f) => f.ageMs > (o.strayAgeMs ?? 3600_000));
  for (let i = 0; i < folders.length; i += batch) {
    const chunk = folders.slice(i, i + batch);
    const known = await o.store.existing(chunk.map((f) => f.id));
    for (const f of chunk.filter((c) => !known.has(c.id))) {
      if (!o.dryRun) await o.files.removeJob(f.id);
      report.strayFolders++;
    }
  }
  o.log.info({ ...report, dryRun: o.dryRun === true }, `retention (${o.days} days${o.dryRun ? ', dry run' : ''}): ${report.jobs} finished jobs and ${report.strayFolders} folders without a job ${o.dryRun ? 'would be ' : ''}removed`);
  return report;
}

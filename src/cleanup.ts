import type { Config } from './config/config.js';
import { runRetention, type RetentionReport } from './cleanup/retention.js';
import { JobStore } from './jobs/store.js';
import { FileStore } from './storage/file-store.js';
import type { Logger } from './log/logger.js';

/** Composition root of `menagerie cleanup`: one retention run against the job store and files. */
export async function runCleanup(config: Config, log: Logger, options: { dryRun?: boolean } = {}): Promise<RetentionReport> {
  const store = new JobStore({
    host: config.mysql.host, port: config.mysql.port, user: config.mysql.user, password: config.mysql.password,
    database: config.mysql.database, connectionLimit: 2,
    ...(config.mysql.socketPath ? { socketPath: config.mysql.socketPath } : {}),
  });
  try {
    await store.migrate();
    return await runRetention({ store, files: new FileStore(config.store.dir), days: config.retention.days, log, ...options });
  } finally {
    await store.close();
  }
}

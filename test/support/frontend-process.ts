import mysql from 'mysql2/promise';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CliProcess } from './processes.js';
import { createTestEnv, type TestEnv } from './services.js';

/** A `menagerie frontend` child process on fresh test resources: a crash cannot hide in-process. */
export interface FrontendProcess {
  env: TestEnv;
  proc: CliProcess;
  url: string;
  port: number;
  /** The pid it started with: the same pid later proves it never restarted. */
  pid: number;
  storeDir: string;
  /** Every file in the store (relative paths, temporary ones included). */
  storeFiles(): Promise<string[]>;
  /** Ids of the job rows in the database. */
  jobIds(): Promise<string[]>;
  close(): Promise<void>;
}

/** Starts a frontend child process for `engines` with config `overrides`. */
export async function startFrontendProcess(engines: unknown[], overrides: Record<string, unknown> = {}): Promise<FrontendProcess> {
  const env = await createTestEnv(engines, overrides);
  const proc = new CliProcess('frontend', join(env.dir, 'config.json'));
  try {
    await proc.start(/frontend listening on .*\(http:\/\/[^)]+\)/);
  } catch (err) {
    await env.cleanup();
    throw err;
  }
  const url = /\((http:\/\/[^)]+)\)/.exec(proc.output)?.[1] ?? '';
  const storeDir = env.config.store.dir;
  return {
    env, proc, url, port: Number(new URL(url).port), pid: proc.pid ?? 0, storeDir,
    storeFiles: () => listFiles(storeDir),
    jobIds: async () => {
      const conn = await mysql.createConnection({ host: '127.0.0.1', user: env.db.user, password: env.db.password, database: env.db.name });
      try {
        const [rows] = await conn.query('SELECT id FROM jobs ORDER BY id');
        return (rows as { id: number | string }[]).map((r) => String(r.id));
      } finally {
        await conn.end();
      }
    },
    close: async () => {
      await proc.stop();
      await env.cleanup();
    },
  };
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

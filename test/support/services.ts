import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import mysql from 'mysql2/promise';
import { loadConfig, type Config } from '../../src/config/config.js';
import { names } from '../../src/queue/topology.js';

/** Reads a variable test/run exports; fails with a message naming the service if missing. */
export function required(name: string, service: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: this test needs ${service}; run it through test/run, which installs and starts it`);
  return v;
}

/** A short random name part, unique per test. */
export function unique(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** Databases this test process created and has not dropped yet (see leak-check.ts). */
const created = new Set<string>();

/** The test databases this process created and did not drop. */
export function undroppedDatabases(): string[] {
  return [...created];
}

/** A throw-away MariaDB database for one test suite. */
export async function createDatabase(): Promise<{ name: string; user: string; password: string; drop: () => Promise<void> }> {
  const user = required('MENAGERIE_TEST_MYSQL_USER', 'MariaDB');
  const password = required('MENAGERIE_TEST_MYSQL_PASSWORD', 'MariaDB');
  const name = `menagerie_test_${unique('')}`;
  const conn = await mysql.createConnection({ host: '127.0.0.1', user, password }).catch((err: Error) => {
    throw new Error(`MariaDB on 127.0.0.1:3306 is not reachable (${err.message}); test/run starts it`);
  });
  try {
    created.add(name);
    await conn.query(`CREATE DATABASE \`${name}\``);
  } finally {
    await conn.end();
  }
  return {
    name, user, password,
    drop: async () => {
      const c = await mysql.createConnection({ host: '127.0.0.1', user, password });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        created.delete(name);
      } finally {
        await c.end();
      }
    },
  };
}

/** The RabbitMQ URL test/run provides. */
export function amqpUrl(): string {
  return required('MENAGERIE_TEST_AMQP_URL', 'RabbitMQ');
}

export interface TestEnv {
  config: Config;
  dir: string;
  db: Awaited<ReturnType<typeof createDatabase>>;
  cleanup: () => Promise<void>;
}

/**
 * A full configuration on fresh resources: its own database, queue prefix, store folder and
 * token, loaded through the real config loader from files written to a temp folder.
 */
export async function createTestEnv(engines: unknown[], overrides: Record<string, unknown> = {}): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'menagerie-test-'));
  const db = await createDatabase().catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  let config: Config | undefined;
  const cleanup = async (): Promise<void> => {
    if (config) await deleteTopology(config).catch(() => undefined);
    await db.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    config = await writeConfig(dir, db, engines, overrides);
    return { config, dir, db, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Deletes the queues and the exchange a test's prefix made on the shared broker: each one is a
 * quorum queue, and a node holding hundreds of leftovers takes minutes to start again.
 */
export async function deleteTopology(config: Config): Promise<void> {
  const n = names(config.rabbitmq.prefix);
  const conn = await connect(config.rabbitmq.url);
  try {
    const ch = await conn.createChannel();
    for (const q of [...config.engines.map((e) => n.queue(e.name)), n.deadLetter, n.poison]) await ch.deleteQueue(q);
    await ch.deleteExchange(n.deadLetter);
    await ch.deleteExchange(n.cancel);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function writeConfig(dir: string, db: TestEnv['db'], engines: unknown[], overrides: Record<string, unknown>): Promise<Config> {
  await writeFile(join(dir, 'engines.json'), JSON.stringify({ engines }));
  const raw = {
    listen: { host: '127.0.0.1', port: 0 },
    internalListen: { host: '127.0.0.1', port: 0 },
    mysql: { user: db.user, password: db.password, database: db.name },
    rabbitmq: { url: amqpUrl(), prefix: unique('mt-') },
    store: { dir: join(dir, 'store') },
    internalToken: randomBytes(24).toString('hex'),
    engines: 'engines.json',
    // The original's open API, without an upload rate (suites send thousands of uploads from
    // one address), unless a test asks for tokens (test/e2e/auth tests the rate, and the
    // appliance suites run with tokens).
    auth: { mode: 'open', uploadsPerMinute: 1_000_000, uploadBurst: 1_000_000 },
    ...overrides,
    // menage's operations listener on a free port: several stacks run at once on this host.
    menage: { listen: { host: '127.0.0.1', port: 0 }, ...(overrides.menage as object | undefined) },
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(raw));
  return loadConfig(join(dir, 'config.json'), {});
}

/** An engines.json entry for a test engine, with fast defaults. */
export function testEngine(name: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, workers: 2, image: 'menagerie-test/behave:latest', cmd: ['/engine/copy'], mountpoint: '/data',
    sizelimit: 1024 * 1024, inputfilename: 'sample', user: '65534:65534', timeout: 20, memory: '64m', pids: 64,
    ...fields,
  };
}

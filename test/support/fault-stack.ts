import { expect } from 'chai';
import Docker from 'dockerode';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABELS } from '../../src/contract/labels.js';
import { freePort, type PrivateMariaDB, type PrivateRabbit } from './private-services.js';
import { CliProcess } from './processes.js';
import { testEngine, unique } from './services.js';

/** Frontend and menage as child processes on private MariaDB and RabbitMQ, for fault tests. */
export class FaultStack {
  readonly frontend: CliProcess;
  readonly menage: CliProcess;
  readonly url: string;
  readonly prefix: string;
  readonly database: string;
  readonly dir: string;
  readonly #db: PrivateMariaDB;
  readonly ids: string[] = [];
  /** Uploads answered with an error (e.g. 503 while the broker was down). */
  refused = 0;

  readonly #docker: Docker;

  private constructor(dir: string, url: string, prefix: string, database: string, db: PrivateMariaDB, docker: Docker) {
    this.#docker = docker;
    this.dir = dir;
    this.url = url;
    this.prefix = prefix;
    this.database = database;
    this.#db = db;
    this.frontend = new CliProcess('frontend', join(dir, 'config.json'));
    this.menage = new CliProcess('menage', join(dir, 'config.json'));
  }

  /** Writes the config (fast leases, small grace) and starts both processes. */
  static async start(db: PrivateMariaDB, rabbit: PrivateRabbit, engines: unknown[], opts: { menage?: boolean; dockerSocket?: string } = {}): Promise<FaultStack> {
    const dir = await mkdtemp(join(tmpdir(), 'menagerie-faults-'));
    const port = await freePort();
    const internalPort = await freePort();
    const prefix = unique('ft-');
    const database = `faults_${unique('')}`;
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root' });
    await conn.query(`CREATE DATABASE ${database}`);
    await conn.end();
    await writeFile(join(dir, 'engines.json'), JSON.stringify({ engines }));
    await writeFile(join(dir, 'config.json'), JSON.stringify({
      listen: { host: '127.0.0.1', port },
      internalListen: { host: '127.0.0.1', port: internalPort },
      mysql: { host: '127.0.0.1', port: db.port, user: 'root', password: '', database, connectionLimit: 5 },
      rabbitmq: { url: rabbit.url, prefix },
      store: { dir: join(dir, 'store') },
      internalToken: randomBytes(20).toString('hex'),
      // The open API without an upload rate: the fault loops upload from one address.
      auth: { mode: 'open', uploadsPerMinute: 1_000_000, uploadBurst: 1_000_000 },
      engines: 'engines.json',
      jobs: { maxAttempts: 6, reapGraceSeconds: 5, leaseSeconds: 3 },
      menage: { listen: { host: '127.0.0.1', port: 0 }, frontendUrl: `http://127.0.0.1:${internalPort}`, shutdownGraceSeconds: 2, dockerSocket: opts.dockerSocket ?? '/var/run/docker.sock' },
    }));
    const stack = new FaultStack(dir, `http://127.0.0.1:${port}`, prefix, database, db, new Docker({ socketPath: opts.dockerSocket ?? '/var/run/docker.sock' }));
    await stack.frontend.start(/frontend listening/);
    if (opts.menage !== false) await stack.menage.start(/menage running/);
    return stack;
  }

  /** Uploads one file; records the jobid, or counts the refusal. */
  async submit(engine: string, body: string): Promise<string | undefined> {
    const form = new FormData();
    form.append('upload', new Blob([body]), 'f');
    try {
      const res = await fetch(`${this.url}/${engine}/upload`, { method: 'POST', body: form, signal: AbortSignal.timeout(30_000) });
      const json = (await res.json()) as { jobid?: string };
      if (res.status === 200 && json.jobid) {
        this.ids.push(json.jobid);
        return json.jobid;
      }
    } catch {
      // the frontend is down or restarting: a refusal
    }
    this.refused++;
    return undefined;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: this.#db.port, user: 'root', database: this.database });
    try {
      return (await conn.query(sql, params))[0] as T[];
    } finally {
      await conn.end();
    }
  }

  /**
   * The checker: waits until every handed-out job is terminal, then asserts none was lost,
   * none completed twice, no row exists that was not handed out, no stray file is in the
   * store and no container of this deployment is left. Prints the figures.
   */
  async check(name: string, timeoutMs = 90_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    let open: { id: string; status: string }[] = [];
    do {
      await sleep(500);
      open = this.ids.length === 0 ? [] : await this.query(`SELECT id, status FROM jobs WHERE id IN (?) AND status NOT IN ('Success','Fail')`, [this.ids]);
    } while (open.length > 0 && Date.now() < until);
    const rows = await this.query<{ id: string; status: string; ms: number; attempts: number }>(
      'SELECT id, status, attempts, TIMESTAMPDIFF(MICROSECOND, created_at, finished_at) / 1000 AS ms FROM jobs');
    const done = await this.query<{ job_id: string; n: number }>(
      `SELECT job_id, COUNT(*) AS n FROM job_events WHERE event IN ('succeed','fail','force-fail') GROUP BY job_id`);
    const lost = this.ids.filter((id) => !rows.some((r) => String(r.id) === id && ['Success', 'Fail'].includes(r.status)));
    const duplicated = done.filter((d) => Number(d.n) > 1).map((d) => String(d.job_id));
    const unknown = rows.filter((r) => !this.ids.includes(String(r.id))).map((r) => String(r.id));
    const maxMs = Math.max(0, ...rows.map((r) => Number(r.ms) || 0));
    const failed = rows.filter((r) => r.status === 'Fail').length;
    const containers = await this.#leftContainers();
    console.log(`      faults[${name}]: jobs=${this.ids.length} refused=${this.refused} lost=${lost.length} ` +
      `duplicated=${duplicated.length} failed=${failed} max-to-terminal=${(maxMs / 1000).toFixed(1)}s ` +
      `max-attempts=${Math.max(0, ...rows.map((r) => r.attempts))} containers-left=${containers.length}`);
    if (process.env.MENAGERIE_TEST_VERBOSE || lost.length || duplicated.length || unknown.length || containers.length) {
      console.log(`--- menage output ---\n${this.menage.output}\n--- frontend output ---\n${this.frontend.output}`);
    }
    expect(lost, 'lost jobs').to.deep.equal([]);
    expect(duplicated, 'jobs completed twice').to.deep.equal([]);
    expect(unknown, 'rows for uploads that were refused').to.deep.equal([]);
    expect(containers, 'containers left behind').to.deep.equal([]);
    const store = (await readdir(join(this.dir, 'store'))).filter((n) => n !== '.tmp');
    expect(store.filter((n) => !this.ids.includes(n)), 'store folders without a job').to.deep.equal([]);
  }

  async #leftContainers(): Promise<string[]> {
    const docker = this.#docker;
    for (let i = 0; i < 60; i++) {
      const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${this.prefix}`] } });
      if (left.length === 0) return [];
      if (i === 59) return left.map((c) => `${c.Id.slice(0, 12)} job ${c.Labels[LABELS.job]} ${c.State}`);
      await sleep(1000);
    }
    return [];
  }

  async close(): Promise<void> {
    await this.menage.stop('SIGKILL');
    await this.frontend.stop('SIGKILL');
    const docker = this.#docker;
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${this.prefix}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Engines used by the fault tests: quick and two-second jobs. */
export const FAULT_ENGINES = [
  testEngine('quick', { cmd: ['/engine/copy'], workers: 2 }),
  testEngine('slow', { cmd: ['/engine/slowcopy', '2'], workers: 2 }),
];

import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createToken } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { LABELS } from '../../src/contract/labels.js';
import { databaseOptions } from '../../src/frontend.js';
import { startFrontendProcess, type FrontendProcess } from './frontend-process.js';
import { TestNetwork } from './netns.js';
import { freePort, PrivateRabbit } from './private-services.js';
import { CliProcess } from './processes.js';
import { unique } from './services.js';
import { bearer } from './stack.js';
import { makePki, type TestPki } from './test-pki.js';

const run = promisify(execFile);

/** A menage node of the cluster: its own namespace, worker token and name. */
export interface ClusterNode {
  name: string;
  proc: CliProcess;
  config: string;
}

export interface ClusterOptions {
  engines: unknown[];
  nodes: number;
  jobs: { leaseSeconds: number; reapGraceSeconds: number; maxAttempts: number };
}

/** A job row as the checks read it. */
export interface JobRow {
  id: string;
  status: string;
  worker: string | null;
  attempts: number;
}

/**
 * The scale-out test's "machines": a frontend process on this host with its internal API
 * served over HTTPS, a private RabbitMQ with an AMQPS listener (both on the service address
 * of a test network), and menage processes each in its own network namespace reaching them
 * only through TLS, with its own worker token. close() removes everything, whatever failed.
 */
export class Cluster {
  readonly nodes: ClusterNode[] = [];
  readonly key = randomBytes(32).toString('hex');
  submitToken = '';
  frontend: FrontendProcess | undefined;
  /** A second frontend on the same database, store and broker (as behind a load balancer). */
  frontend2: CliProcess | undefined;
  frontend2Url = '';
  net: TestNetwork | undefined;
  rabbit: PrivateRabbit | undefined;
  pki: TestPki | undefined;
  dir = '';
  #tokens: TokenStore | undefined;
  readonly #docker = new Docker({ socketPath: '/var/run/docker.sock' });

  /** Builds the cluster step by step; the caller's close() undoes whatever was made. */
  async start(o: ClusterOptions): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'menagerie-scale-out-'));
    this.net = TestNetwork.create(o.nodes);
    const svc = this.net.serviceAddress;
    this.pki = makePki(join(this.dir, 'pki'), { ips: [svc] });
    // Not under this.dir: mkdtemp makes it 0700, and the broker runs as the rabbitmq user.
    this.rabbit = new PrivateRabbit(join(tmpdir(), unique('so-mq-')), { tls: { host: svc, ...this.pki } });
    await this.rabbit.start();
    const internalPort = await freePort();
    this.frontend = await startFrontendProcess(o.engines, {
      rabbitmq: { url: this.rabbit.url, prefix: unique('so-') },
      internalListen: { host: svc, port: internalPort, cert: this.pki.cert, key: this.pki.key },
      jobs: o.jobs, auth: { mode: 'tokens', key: this.key },
    });
    await this.#startSecondFrontend(svc);
    this.#tokens = new TokenStore(databaseOptions(this.frontend.env.config));
    this.submitToken = (await createToken(this.#tokens, this.key, { name: 'analyst', role: 'submit' })).token;
    for (const [i, host] of this.net.hosts.entries()) {
      const name = `node-${i}`;
      const { token } = await createToken(this.#tokens, this.key, { name, role: 'worker' });
      const config = join(this.frontend.env.dir, `${name}.json`);
      // A worker node's whole configuration: no database, no shared internal token.
      await writeFile(config, JSON.stringify({
        rabbitmq: { url: `amqps://guest:guest@${svc}:${this.rabbit.tlsPort}`, prefix: this.prefix, ca: this.pki.ca },
        engines: 'engines.json', jobs: o.jobs,
        menage: { frontendUrl: `https://${svc}:${internalPort}`, frontendCa: this.pki.ca, token, node: name, shutdownGraceSeconds: 2,
          listen: { host: '127.0.0.1', port: 0 } },
      }));
      this.nodes.push({ name, config, proc: new CliProcess('menage', config, host.exec) });
    }
    await Promise.all(this.nodes.map((n) => n.proc.start(/menage running/, 60_000)));
  }

  /** The same configuration but its own ports: the same database, store, broker and prefix. */
  async #startSecondFrontend(svc: string): Promise<void> {
    const dir = this.frontend?.env.dir ?? '';
    const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
    const config = join(dir, 'frontend2.json');
    await writeFile(config, JSON.stringify({ ...raw, listen: { host: '127.0.0.1', port: 0 },
      internalListen: { ...raw.internalListen, host: svc, port: await freePort() } }));
    this.frontend2 = new CliProcess('frontend', config);
    await this.frontend2.start(/frontend listening on .*\(http:\/\/[^)]+\)/);
    this.frontend2Url = /\((http:\/\/[^)]+)\)/.exec(this.frontend2.output)?.[1] ?? '';
  }

  get prefix(): string {
    return this.frontend?.env.config.rabbitmq.prefix ?? '';
  }

  /** Uploads `count` files to `engine` with the analyst's token; returns their job ids. */
  async submit(engine: string, count: number, tag: string, via: 'first' | 'both' = 'first'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const url = via === 'both' && i % 2 === 1 ? this.frontend2Url : this.frontend?.url;
      const form = new FormData();
      form.append('upload', new Blob([`${tag} ${i} ${randomBytes(4).toString('hex')}`]), 'sample');
      const res = await fetch(`${url}/${engine}/upload`, { method: 'POST', body: form, headers: bearer(this.submitToken), signal: AbortSignal.timeout(30_000) });
      const json = (await res.json()) as { jobid?: string };
      if (res.status !== 200 || !json.jobid) throw new Error(`upload refused: ${res.status} ${JSON.stringify(json)}`);
      ids.push(json.jobid);
    }
    return ids;
  }

  async jobs(ids: string[]): Promise<JobRow[]> {
    if (ids.length === 0) return [];
    const db = this.frontend?.env.db;
    const conn = await mysql.createConnection({ host: '127.0.0.1', user: db?.user, password: db?.password, database: db?.name });
    try {
      const [rows] = await conn.query('SELECT id, status, worker, attempts FROM jobs WHERE id IN (?) ORDER BY id', [ids]);
      return (rows as JobRow[]).map((r) => ({ ...r, id: String(r.id) }));
    } finally {
      await conn.end();
    }
  }

  /** Polls until `done(rows)` holds; throws with the last rows after `timeoutMs`. */
  async waitFor(ids: string[], done: (rows: JobRow[]) => boolean, what: string, timeoutMs: number, everyMs = 200): Promise<JobRow[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const rows = await this.jobs(ids);
      if (done(rows)) return rows;
      if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms: ${JSON.stringify(rows)}\n${this.outputs()}`);
      await sleep(everyMs);
    }
  }

  /** Waits until every job is Success or Fail. */
  waitTerminal(ids: string[], timeoutMs: number): Promise<JobRow[]> {
    return this.waitFor(ids, (rows) => rows.length === ids.length && rows.every((r) => r.status === 'Success' || r.status === 'Fail'), 'jobs terminal', timeoutMs);
  }

  /** Revokes a node's worker token the way an operator does: `menagerie token revoke NAME`. */
  async revoke(node: ClusterNode): Promise<void> {
    const cli = join(process.cwd(), 'dist/src/cli.js');
    await run(process.execPath, [cli, 'token', 'revoke', node.name, '--config', join(this.frontend?.env.dir ?? '', 'config.json')], { timeout: 30_000 });
  }

  /** Containers of this deployment still present. */
  async containers(): Promise<string[]> {
    const left = await this.#docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${this.prefix}`] } });
    return left.map((c) => `${c.Id.slice(0, 12)} job ${c.Labels[LABELS.job]} node ${c.Labels[LABELS.node]} ${c.State}`);
  }

  outputs(): string {
    return this.nodes.map((n) => `--- ${n.name} ---\n${n.proc.output.slice(-4000)}`).join('\n') +
      `\n--- frontend ---\n${this.frontend?.proc.output.slice(-4000) ?? ''}`;
  }

  /** Stops every process and removes containers, queues, database, namespaces and files; never throws. */
  async close(): Promise<void> {
    const steps: (() => Promise<unknown> | unknown)[] = [
      () => Promise.all(this.nodes.map((n) => n.proc.stop('SIGKILL'))),
      async () => {
        for (const c of this.prefix ? await this.#docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${this.prefix}`] } }) : []) {
          await this.#docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
        }
      },
      () => this.frontend2?.stop('SIGKILL'),
      () => this.#tokens?.close(),
      () => this.frontend?.close(),
      () => this.rabbit?.destroy(),
      () => this.net?.destroy(),
      () => this.dir && rm(this.dir, { recursive: true, force: true }),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        console.log(`scale-out cleanup: ${(err as Error).message}`);
      }
    }
  }
}

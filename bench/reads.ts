import mysql from 'mysql2/promise';
import { pageStatement } from '../src/jobs/listing.js';
import { poolOptions } from '../src/jobs/store.js';
import { bareServer, getter } from './http-client.js';
import { benchEngine, cpuSeconds, startLocal, type Target } from './stack.js';
import { latency, load, ms, openLoop, ratio, timeline } from './stats.js';

export interface ReadsOptions {
  rows: number;
  rate: number;
  seconds: number;
  /**
   * Seconds at the same rate before each measured run, reported apart: a freshly started
   * frontend opens its database connections and compiles its hot paths in the first second.
   */
  warmup: number;
  remote?: Target;
  print: (line: string) => void;
}

/**
 * `GET /result/<id>` (random ids) and the API v1 listing at an offered rate (open loop) with
 * `rows` jobs in the table, against a bare node:http server answering the same open loop.
 */
export async function runReads(o: ReadsOptions): Promise<void> {
  const target = o.remote ?? await startLocal([benchEngine('e0'), benchEngine('e1'), benchEngine('e2'), benchEngine('e3')], { menage: false });
  const bare = await bareServer();
  try {
    const ids = o.remote ? await knownIds(target) : undefined;
    const rows = ids ? 0 : await fill(target, o.rows, o.print);
    const random = ids ? (): string => ids[Math.floor(Math.random() * ids.length)] ?? '' : (): number => 1 + Math.floor(Math.random() * rows);
    const cases: [string, (i: number) => string][] = [
      ['GET /result/<id>', () => `/result/${random()}`],
      ['GET /api/v1/jobs?limit=20', (i) => (i % 2 ? '/api/v1/jobs?limit=20' : '/api/v1/jobs?status=Success&limit=20')],
    ];
    if (target.env?.db) await databaseFloors(target, o, random);
    for (const [what, path] of cases) {
      const menagerie = getter(target.url, target.headers);
      const floor = getter(bare.url, {});
      try {
        await warm(o, () => floor.get('/'));
        const b = await openLoop(o.rate, o.seconds, () => floor.get('/'));
        const w = latency(await warm(o, (i) => menagerie.get(path(i))));
        menagerie.failures.clear();
        const pid = target.frontend?.pid;
        const cpuBefore = pid ? await cpuSeconds(pid) : 0;
        const m = await openLoop(o.rate, o.seconds, (i) => menagerie.get(path(i)));
        const cpu = pid ? `${((((await cpuSeconds(pid)) - cpuBefore) * 1000) / (o.rate * o.seconds)).toFixed(2)} ms` : 'n/a';
        const [lb, lm] = [latency(b.latencies), latency(m.latencies)];
        o.print(`${what} at ${o.rate}/s for ${o.seconds} s: p50 ${ms(lm.p50)}, p99 ${ms(lm.p99)}, max ${ms(lm.max)}, errors ${m.errors}${m.errors ? ` (${[...menagerie.failures].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}; `
          + `bare node:http p50 ${ms(lb.p50)}, p99 ${ms(lb.p99)}; p99 ${ratio(lm.p99, lb.p99)} × bare; frontend CPU ${cpu} per request (load ${load()})`);
        o.print(`  by second: ${timeline(m)}; the ${o.warmup} s warm-up before: p50 ${ms(w.p50)}, p99 ${ms(w.p99)}, max ${ms(w.max)}`);
      } finally {
        menagerie.close();
        floor.close();
      }
    }
  } finally {
    await bare.close();
    if (!o.remote) await target.close();
  }
}

/** The warm-up's latencies (none for --warmup 0). */
async function warm(o: ReadsOptions, fn: (i: number) => Promise<boolean>): Promise<number[]> {
  return o.warmup > 0 ? (await openLoop(o.rate, o.warmup, fn)).latencies : [];
}

/**
 * The floors under the two routes: the same statements sent straight to MariaDB by a mysql2
 * pool with the frontend's options (poolOptions, 10 connections, prepared), at the same
 * offered rate, from this process: what the database and loopback cost before any HTTP,
 * routing or JSON.
 */
async function databaseFloors(t: Target, o: ReadsOptions, random: () => number | string): Promise<void> {
  const db = t.env?.db;
  if (!db) return;
  const pool = mysql.createPool(poolOptions({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name, connectionLimit: 10 }));
  const pages = [pageStatement({ limit: 21 }), pageStatement({ limit: 21, statuses: ['Success'] })];
  const cases: [string, (i: number) => { sql: string; params: unknown[] }][] = [
    ['SELECT by id', () => ({ sql: 'SELECT * FROM jobs WHERE id = ?', params: [random()] })],
    ["the listing's page statements", (i) => pages[i % 2] as { sql: string; params: unknown[] }],
  ];
  try {
    for (const [what, statement] of cases) {
      const read = async (i: number): Promise<boolean> => {
        const { sql, params } = statement(i);
        const [rows] = await pool.execute<mysql.RowDataPacket[]>(sql, params as (string | number)[]);
        return rows.length > 0;
      };
      await warm(o, read);
      const m = await openLoop(o.rate, o.seconds, read);
      const l = latency(m.latencies);
      o.print(`MariaDB alone (${what}, mysql2 pool of 10) at ${o.rate}/s for ${o.seconds} s: p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)}, errors ${m.errors} (load ${load()})`);
    }
  } finally {
    await pool.end();
  }
}

/**
 * Ids of jobs a remote appliance has (up to 2,000 of the newest, from its listing): its ids
 * have gaps (jobs removed by retention, ids a refused insert used), so a random id below the
 * newest would measure 404s as well as reads.
 */
async function knownIds(t: Target): Promise<string[]> {
  const ids: string[] = [];
  let cursor = '';
  do {
    const res = await fetch(`${t.url}/api/v1/jobs?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers: t.headers });
    if (!res.ok) throw new Error(`the appliance's listing answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const json = (await res.json()) as { jobs?: { jobid: string }[]; next?: string | null };
    ids.push(...(json.jobs ?? []).map((j) => j.jobid));
    cursor = json.next ?? '';
  } while (cursor && ids.length < 2000);
  if (ids.length === 0) throw new Error('the appliance has no jobs to read');
  return ids;
}

/** A containment report as menage writes it for a finished job (the md5 engine's, on the appliance). */
const CONTAINMENT = {
  network: 'none', readonlyRootfs: true, capDrop: ['ALL'], capAdd: [], privileged: false, noNewPrivileges: true, userns: 'remapped',
  user: '65534:65534', pidMode: 'private', ipcMode: 'none', utsMode: 'private', pidsLimit: 32, memoryBytes: 67108864,
  memorySwapBytes: 67108864, nanoCpus: 1000000000, tmpfs: {}, binds: [], mounts: [{ type: 'volume', destination: '/data', rw: true }],
  devices: [], apparmorProfile: 'menagerie-engine-md5', seccomp: 'docker default', runtime: 'runc', image: '172.30.100.1:5443/md5:1.0.0',
  imageId: 'sha256:c2bec909cdbf5baf5b9cfdc11876a8f3557fb7b963046b9fdff406a345408a42',
  repoDigests: ['172.30.100.1:5443/md5@sha256:83025421a97c9f5ac80fde070c65ccb0bd31b2ac8ef995ace25970ab40041e25'], pooled: false,
};

/**
 * Fills the local stack's jobs table as test/integration/jobs/listing.test.ts does: one
 * INSERT … SELECT from MariaDB's sequence engine, secondary indexes set aside and rebuilt.
 */
async function fill(t: Target, rows: number, print: (line: string) => void): Promise<number> {
  const db = t.env?.db;
  if (!db) throw new Error('no database to fill');
  const conn = await mysql.createConnection({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name, timezone: 'Z' });
  try {
    const started = Date.now();
    const [[table]] = await conn.query<mysql.RowDataPacket[]>('SHOW CREATE TABLE jobs');
    const keys = [...String(table?.['Create Table']).matchAll(/^\s+KEY `([a-z0-9_]+)` (\([^)]+\))/gm)].map((m) => ({ name: m[1], columns: m[2] }));
    await conn.query(`ALTER TABLE jobs ${keys.map((k) => `DROP KEY \`${k.name}\``).join(', ')}`);
    // Finished rows carry what real ones do: a summary and the worker's containment report
    // (about 0.7 KB of JSON each, which the listing sends back and /result does not).
    await conn.query(`INSERT INTO jobs (engine, filename, size, sha256, status, owner, created_at, queued, summary, containment)
      SELECT CONCAT('e', seq % 4), CONCAT('f', seq % 100000), seq, SHA2(seq % 500000, 256),
        ELT(1 + seq % 4, 'Received', 'Running', 'Success', 'Fail'), NULL,
        TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, 1,
        IF(seq % 4 >= 2, CONCAT(MD5(seq), '\\n'), ''), IF(seq % 4 >= 2, ?, NULL)
      FROM seq_1_to_${rows}`, [JSON.stringify(CONTAINMENT)]);
    await conn.query(`ALTER TABLE jobs ${keys.map((k) => `ADD KEY \`${k.name}\` ${k.columns}`).join(', ')}`);
    await conn.query('ANALYZE TABLE jobs');
    print(`(${rows} rows inserted and indexed in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return rows;
  } finally {
    await conn.end();
  }
}

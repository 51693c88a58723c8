import mysql from 'mysql2/promise';
import { bareServer, getter } from './http-client.js';
import { benchEngine, cpuSeconds, startLocal, type Target } from './stack.js';
import { latency, load, ms, openLoop, ratio } from './stats.js';

export interface ReadsOptions {
  rows: number;
  rate: number;
  seconds: number;
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
    const maxId = o.remote ? Number(await latestId(target)) : await fill(target, o.rows, o.print);
    const random = (): number => 1 + Math.floor(Math.random() * maxId);
    const cases: [string, (i: number) => string][] = [
      ['GET /result/<id>', () => `/result/${random()}`],
      ['GET /api/v1/jobs?limit=20', (i) => (i % 2 ? '/api/v1/jobs?limit=20' : '/api/v1/jobs?status=Success&limit=20')],
    ];
    for (const [what, path] of cases) {
      const menagerie = getter(target.url, target.headers);
      const floor = getter(bare.url, {});
      try {
        const b = await openLoop(o.rate, o.seconds, () => floor.get('/'));
        const pid = target.frontend?.pid;
        const cpuBefore = pid ? await cpuSeconds(pid) : 0;
        const m = await openLoop(o.rate, o.seconds, (i) => menagerie.get(path(i)));
        const cpu = pid ? `${((((await cpuSeconds(pid)) - cpuBefore) * 1000) / (o.rate * o.seconds)).toFixed(2)} ms` : 'n/a';
        const [lb, lm] = [latency(b.latencies), latency(m.latencies)];
        o.print(`${what} at ${o.rate}/s for ${o.seconds} s: p50 ${ms(lm.p50)}, p99 ${ms(lm.p99)}, max ${ms(lm.max)}, errors ${m.errors}${m.errors ? ` (${[...menagerie.failures].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}; `
          + `bare node:http p50 ${ms(lb.p50)}, p99 ${ms(lb.p99)}; p99 ${ratio(lm.p99, lb.p99)} × bare; frontend CPU ${cpu} per request (load ${load()})`);
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

/** A remote appliance's newest job id (its listing's first row). */
async function latestId(t: Target): Promise<string> {
  const res = await fetch(`${t.url}/api/v1/jobs?limit=1`, { headers: t.headers });
  const json = (await res.json()) as { jobs?: { id: string }[] };
  const id = json.jobs?.[0]?.id;
  if (!id) throw new Error('the appliance has no jobs to read');
  return id;
}

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
    await conn.query(`INSERT INTO jobs (engine, filename, size, sha256, status, owner, created_at, queued)
      SELECT CONCAT('e', seq % 4), CONCAT('f', seq % 100000), seq, SHA2(seq % 500000, 256),
        ELT(1 + seq % 4, 'Received', 'Running', 'Success', 'Fail'), NULL,
        TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, 1
      FROM seq_1_to_${rows}`);
    await conn.query(`ALTER TABLE jobs ${keys.map((k) => `ADD KEY \`${k.name}\` ${k.columns}`).join(', ')}`);
    await conn.query('ANALYZE TABLE jobs');
    print(`(${rows} rows inserted and indexed in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return rows;
  } finally {
    await conn.end();
  }
}

import { expect } from 'chai';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import type { JobStatus } from '../../../src/jobs/job.js';
import { boundStatements, chooseIndex, pageStatement, type ListQuery } from '../../../src/jobs/listing.js';
import { JobStore, UTC_SESSION } from '../../../src/jobs/store.js';
import { createDatabase } from '../../support/services.js';

const ROWS = 1_000_000;

/** Every filter combination the API offers, each with values that exist in the table. */
function combinations(sha256: string): ListQuery[] {
  const out: ListQuery[] = [];
  const statusChoices: (readonly JobStatus[] | undefined)[] = [undefined, ['Fail'], ['Success', 'Fail'], ['Received', 'Running', 'Success', 'Fail']];
  for (let mask = 0; mask < 1 << 7; mask++) {
    for (const statuses of statusChoices) {
      const q: ListQuery = { limit: 51 };
      if (mask & 1) q.engine = 'e1';
      if (mask & 2) q.filename = 'f123';
      if (mask & 4) q.sha256 = sha256;
      if (mask & 8) q.owner = 'o3';
      if (mask & 16) q.createdAfter = new Date('2026-01-05T00:00:00Z');
      if (mask & 32) q.createdBefore = new Date('2026-01-08T00:00:00Z');
      if (mask & 64) q.beforeId = '900000';
      if (statuses) q.statuses = statuses;
      out.push(q);
    }
  }
  return out;
}

/** Why a plan is not acceptable: a table scan, a full index scan behind a filter, or a filesort over jobs. */
function planProblems(rows: RowDataPacket[], q: ListQuery): string[] {
  const problems: string[] = [];
  const fixed = ['engine', 'filename', 'sha256', 'owner', 'statuses'].some((k) => (q as unknown as Record<string, unknown>)[k] !== undefined);
  for (const r of rows) {
    if (r.table !== 'jobs') continue; // the merge of per-status walks: at most 4 × limit rows
    if (r.type === 'ALL') problems.push('full table scan');
    if (!r.key) problems.push('no index');
    if (r.type === 'index' && (fixed || r.key !== 'PRIMARY')) problems.push(`full index scan of ${r.key}`);
    if (String(r.Extra ?? '').includes('filesort')) problems.push(`filesort over jobs (${r.Extra})`);
  }
  return problems;
}

describe('integration: the job listing on a million rows', function () {
  this.timeout(180_000);
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let store: JobStore;
  let conn: Connection;
  let sha: string;

  before(async () => {
    db = await createDatabase();
    store = new JobStore({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name });
    await store.migrate();
    conn = await mysql.createConnection({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name, timezone: 'Z' });
    await conn.query(UTC_SESSION);
    const started = Date.now();
    // The migrations' secondary indexes are set aside while the rows go in and built again in
    // one pass afterwards (sorted builds: about three times faster than row by row).
    const [[table]] = await conn.query<RowDataPacket[]>('SHOW CREATE TABLE jobs');
    const keys = [...String(table?.['Create Table']).matchAll(/^\s+KEY `([a-z0-9_]+)` (\([^)]+\))/gm)].map((m) => ({ name: m[1], columns: m[2] }));
    expect(keys.map((k) => k.name)).to.include.members(['jobs_sha256', 'jobs_created', 'jobs_owner_engine_status']);
    await conn.query(`ALTER TABLE jobs ${keys.map((k) => `DROP KEY \`${k.name}\``).join(', ')}`);
    // One statement from MariaDB's sequence engine: engines, statuses and owners spread evenly,
    // 100,000 file names, 500,000 contents, one job a second from 2026-01-01 (ids follow time).
    await conn.query(`INSERT INTO jobs (engine, filename, size, sha256, status, owner, created_at, queued)
      SELECT CONCAT('e', seq % 4), CONCAT('f', seq % 100000), seq, SHA2(seq % 500000, 256),
        ELT(1 + seq % 4, 'Received', 'Running', 'Success', 'Fail'), IF(seq % 11 = 0, NULL, CONCAT('o', seq % 10)),
        TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND, 1
      FROM seq_1_to_${ROWS}`);
    await conn.query(`ALTER TABLE jobs ${keys.map((k) => `ADD KEY \`${k.name}\` ${k.columns}`).join(', ')}`);
    console.log(`      (${ROWS} rows inserted and indexed in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    await conn.query('ANALYZE TABLE jobs');
    const [rows] = await conn.query<RowDataPacket[]>('SELECT sha256 FROM jobs WHERE id = 123');
    sha = String(rows[0]?.sha256);
  });
  after(async () => {
    await conn?.end();
    await store?.close();
    await db?.drop();
  });

  const explain = async (sql: string, params: unknown[]): Promise<RowDataPacket[]> =>
    (await conn.query<RowDataPacket[]>(`EXPLAIN ${sql}`, params))[0];

  it('every filter combination walks an index: no table scan, no filesort over jobs', async () => {
    const failures: string[] = [];
    const combos = combinations(sha);
    for (const q of combos) {
      const bounds = boundStatements(q);
      for (const s of [bounds.below, bounds.above]) {
        if (!s) continue;
        const plan = await explain(s.sql, s.params);
        if (plan[0]?.key !== 'jobs_created' || plan[0]?.type !== 'range' || String(plan[0]?.Extra).includes('filesort')) {
          failures.push(`bound ${s.sql}: ${JSON.stringify(plan)}`);
        }
      }
      // With and without the created range's id bounds (a bound may be absent at the table's ends).
      for (const b of [{}, { below: '950000', above: '100000' }]) {
        const page = pageStatement(q, b);
        const problems = planProblems(await explain(page.sql, page.params), q);
        if (problems.length) failures.push(`${JSON.stringify(q)} via ${chooseIndex(q).name}: ${problems.join(', ')}`);
      }
    }
    expect(combos.length).to.equal(512);
    expect(failures).to.deep.equal([]);
  });

  it("the reaper's scan reads index ranges, not the table: a few rows read of a million", async () => {
    // One connection, so the session's handler counters are the scan's own. The table's 250,000
    // Received and 250,000 Running rows are all confirmed and without a deadline: nothing to reap.
    const one = new JobStore({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name, connectionLimit: 1 });
    try {
      const reads = async (): Promise<number> => {
        const [rows] = await one.pool.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Handler_read%'");
        return rows.reduce((sum, r) => sum + Number(r.Value), 0);
      };
      await one.listReapable(new Date(Date.now() - 60_000), 100, new Date(Date.now() - 60_000)); // the connection's set-up
      const before = await reads();
      const found = await one.listReapable(new Date(Date.now() - 60_000), 100, new Date(Date.now() - 60_000));
      const read = (await reads()) - before;
      expect(found).to.deep.equal([]);
      expect(read, 'rows read by one scan').to.be.below(1000);
    } finally {
      await one.close();
    }
  });

  it('every combination answers fast with rows that match, newest first', async () => {
    let slowest = { ms: 0, q: '' };
    for (const q of combinations(sha)) {
      const started = Date.now();
      const jobs = await store.list(q);
      if (Date.now() - started > slowest.ms) slowest = { ms: Date.now() - started, q: JSON.stringify(q) };
      const ids = jobs.map((j) => Number(j.id));
      expect(ids, JSON.stringify(q)).to.deep.equal([...ids].sort((a, b) => b - a));
      for (const j of jobs) {
        const ok = (q.engine === undefined || j.engine === q.engine) && (q.filename === undefined || j.filename === q.filename)
          && (q.sha256 === undefined || j.sha256 === q.sha256) && (q.owner === undefined || j.owner === q.owner)
          && (!q.statuses || q.statuses.includes(j.status)) && (!q.createdAfter || j.createdAt >= q.createdAfter)
          && (!q.createdBefore || j.createdAt < q.createdBefore) && (q.beforeId === undefined || Number(j.id) < Number(q.beforeId));
        expect(ok, `${JSON.stringify(q)} gave ${JSON.stringify(j)}`).to.equal(true);
      }
    }
    console.log(`      (slowest page: ${slowest.ms} ms, ${slowest.q})`);
    expect(slowest.ms).to.be.below(250);
  });

  it('a selective filter gives exactly the rows a plain query gives', async () => {
    let compared = 0;
    for (const q of combinations(sha).filter((c) => c.sha256 !== undefined || c.filename !== undefined)) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, v: unknown): void => void (where.push(sql), params.push(v));
      if (q.engine !== undefined) add('engine = ?', q.engine);
      if (q.filename !== undefined) add('filename = ?', q.filename);
      if (q.sha256 !== undefined) add('sha256 = ?', q.sha256);
      if (q.owner !== undefined) add('owner = ?', q.owner);
      if (q.statuses) add('status IN (?)', q.statuses);
      if (q.createdAfter) add('created_at >= ?', q.createdAfter);
      if (q.createdBefore) add('created_at < ?', q.createdBefore);
      if (q.beforeId) add('id < ?', q.beforeId);
      const [rows] = await conn.query<RowDataPacket[]>(`SELECT id FROM jobs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, [...params, q.limit]);
      expect((await store.list(q)).map((j) => j.id), JSON.stringify(q)).to.deep.equal(rows.map((r) => String(r.id)));
      compared += rows.length;
    }
    expect(compared, 'the combinations find rows').to.be.greaterThan(100);
  });

  it('a created range gives exactly the jobs created in it', async () => {
    const q: ListQuery = { limit: 200, createdAfter: new Date('2026-01-05T00:00:00Z'), createdBefore: new Date('2026-01-05T00:02:00Z'), statuses: ['Fail'] };
    const got = (await store.list(q)).map((j) => j.id);
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT id FROM jobs IGNORE INDEX (jobs_created) WHERE created_at >= ? AND created_at < ? AND status = 'Fail' ORDER BY id DESC`,
      [q.createdAfter, q.createdBefore]);
    expect(got).to.deep.equal(rows.map((r) => String(r.id)));
    expect(got.length).to.equal(30);
  });

  it('pages stay stable while new jobs arrive between page reads', async () => {
    const filter = { engine: 'e1', statuses: ['Fail', 'Running'] as JobStatus[] };
    const expected = (await store.list({ ...filter, limit: 250 })).map((j) => j.id);
    const seen: string[] = [];
    let beforeId: string | undefined;
    for (let page = 0; page < 5; page++) {
      const rows = await store.list({ ...filter, limit: 50, ...(beforeId ? { beforeId } : {}) });
      seen.push(...rows.map((j) => j.id));
      beforeId = rows[rows.length - 1]?.id;
      // New matching jobs arrive between reads; they are newer than every page already read.
      for (let i = 0; i < 3; i++) await conn.query(`INSERT INTO jobs (engine, filename, size, sha256, status) VALUES ('e1', 'new', 1, REPEAT('a', 64), 'Fail')`);
    }
    expect(seen).to.deep.equal(expected);
    expect(new Set(seen).size).to.equal(250);
  });
});

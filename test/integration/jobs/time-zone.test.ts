import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reaper } from '../../../src/jobs/reaper.js';
import { JobService } from '../../../src/jobs/service.js';
import { JobStore } from '../../../src/jobs/store.js';
import { normaliseEngine, type Engine } from '../../../src/engines/engines.js';
import { FileStore } from '../../../src/storage/file-store.js';
import { PrivateMariaDB } from '../../support/private-services.js';
import { unique } from '../../support/services.js';
import { silentLogger } from '../../../src/log/logger.js';

/**
 * Job times and lease comparisons with MariaDB's server zone ahead of and behind UTC. A
 * private server, so that its global zone can change without disturbing other suites on
 * the shared one (whose open sessions would keep a wrong zone for their lifetime).
 */
describe('integration: job store with MariaDB not on UTC', function () {
  this.timeout(120_000);
  let dir: string;
  let db: PrivateMariaDB;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-tz-'));
    db = new PrivateMariaDB(join(tmpdir(), unique('tz-db-')));
    await db.start();
  });
  after(async () => {
    await db?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const root = (database?: string) => mysql.createConnection({ host: '127.0.0.1', port: db.port, user: 'root', database });

  for (const zone of ['+03:00', '-05:00']) {
    describe(`server zone ${zone}`, () => {
      let store: JobStore;
      let service: JobService;
      const near = (at: Date | null | undefined): void => {
        expect(at, 'a recorded time').to.be.instanceOf(Date);
        expect(Math.abs((at as Date).getTime() - Date.now()), `${at?.toISOString()} vs now`).to.be.below(10_000);
      };

      before(async () => {
        const database = `tz_${unique('')}`;
        const c = await root();
        await c.query(`SET GLOBAL time_zone = '${zone}'`);
        await c.query(`CREATE DATABASE ${database}`);
        await c.end();
        // Sessions opened from now on start in `zone`; the store must still work in UTC.
        store = new JobStore({ host: '127.0.0.1', port: db.port, user: 'root', password: '', database, connectionLimit: 2 });
        await store.migrate();
        const engine = normaliseEngine({ name: 'md5', image: 'x', cmd: '/run', runflags: '', mountpoint: '/data', sizelimit: 10,
          inputfilename: 's', timeout: 60 }, (p, m) => expect.fail(`${p}: ${m}`)) as Engine;
        service = new JobService({ store, files: new FileStore(join(dir, `store${zone}`)), queue: { publish: async () => undefined },
          engines: [engine], maxAttempts: 3, graceMs: 60_000, leaseMs: 30_000 });
      });
      after(async () => {
        await store?.close();
      });

      it('the server really is on the zone (the session default) and the store still records UTC', async () => {
        const c = await root();
        const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@session.time_zone AS z');
        await c.end();
        expect(rows[0]?.z).to.equal(zone);
        const id = await store.create({ engine: 'md5', filename: 'f', size: 1, sha256: 'a'.repeat(64) });
        near((await store.get(id))?.createdAt);
      });

      it('a fresh lease is not expired: no second start, the reaper leaves the running job alone', async () => {
        const id = await store.create({ engine: 'md5', filename: 'f', size: 1, sha256: 'a'.repeat(64) });
        await store.markQueued(id);
        const started = await service.start(id, 'w1');
        const job = await store.get(id);
        near(job?.startedAt);
        expect((await store.listReapable(new Date(Date.now() - 60_000), 1000)).map((j) => j.id)).to.not.include(id);
        const reaper = new Reaper({ store, service, intervalMs: 1000, unqueuedGraceMs: 60_000, log: silentLogger() });
        expect(await reaper.scan()).to.include({ requeued: 0, failed: 0 });
        let busy = '';
        await service.start(id, 'w2').catch((err: { code: string }) => (busy = err.code));
        expect(busy).to.equal('JOB_BUSY');
        expect(await store.get(id)).to.include({ status: 'Running', lease: started.lease, attempts: 1 });
      });

      it('a fresh unconfirmed upload is not stale; one older than the grace is', async () => {
        const id = await store.create({ engine: 'md5', filename: 'f', size: 1, sha256: 'a'.repeat(64) });
        expect((await store.listReapable(new Date(Date.now() - 60_000), 1000)).map((j) => j.id)).to.not.include(id);
        expect((await store.listReapable(new Date(Date.now() + 60_000), 1000)).map((j) => j.id)).to.include(id);
      });

      it('an expired lease is expired; finish times are UTC', async () => {
        const id = await store.create({ engine: 'md5', filename: 'f', size: 1, sha256: 'a'.repeat(64) });
        await store.apply(id, 'start', { lease: 'e'.repeat(32), incrementAttempts: true, deadline: new Date(Date.now() - 2000) });
        expect((await store.listReapable(new Date(0), 1000)).map((j) => j.id)).to.include(id);
        const taken = await service.start(id, 'w3');
        const done = await store.apply(id, 'succeed', { summary: 'ok', finishedNow: true }, { lease: taken.lease });
        expect(done.kind).to.equal('applied');
        near(done.kind === 'applied' ? done.job.finishedAt : undefined);
        expect(await store.listFinishedBefore(new Date(Date.now() - 3600_000), 10)).to.not.include(id);
        const [ev] = await store.events(id);
        near(ev?.at);
      });
    });
  }
});

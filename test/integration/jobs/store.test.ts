import { expect } from 'chai';
import { MIGRATIONS } from '../../../src/jobs/migrations.js';
import { JobStore } from '../../../src/jobs/store.js';
import { createDatabase } from '../../support/services.js';
import { TcpSwitch } from '../../support/tcp-switch.js';

describe('integration: job store on MariaDB', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>;
  let store: JobStore;
  const lease = (c: string): string => c.repeat(32);
  const newJob = (): Promise<string> => store.create({ engine: 'md5', filename: 'f', size: 1, sha256: 'a'.repeat(64) });
  const start = (id: string, l: string) => store.apply(id, 'start',
    { lease: l, incrementAttempts: true, deadline: new Date(Date.now() + 60_000) }, { maxAttempts: 3, runningOnlyIfExpired: true });

  before(async () => {
    db = await createDatabase();
    store = new JobStore({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name });
  });
  after(async () => {
    await store?.close();
    await store?.close(); // close is idempotent
    await db?.drop();
  });

  it('applies migrations once; a second run applies nothing and keeps the data', async () => {
    expect(await store.migrate()).to.deep.equal(MIGRATIONS.map((m) => m.version));
    const id = await newJob();
    expect(await store.migrate()).to.deep.equal([]);
    expect((await store.get(id))?.status).to.equal('Received');
  });

  it('creates Received jobs with string ids', async () => {
    const id = await newJob();
    const job = await store.get(id);
    expect(job).to.include({ id, engine: 'md5', status: 'Received', attempts: 0, summary: '' });
    expect(await store.get('999999999')).to.equal(undefined);
  });

  it('a start takes a lease; a second start is refused while the lease is valid', async () => {
    const id = await newJob();
    expect((await start(id, lease('a'))).kind).to.equal('applied');
    const again = await start(id, lease('b'));
    expect(again.kind).to.equal('conflict');
    expect(again.kind === 'conflict' && again.job.lease).to.equal(lease('a'));
  });

  it('a start takes over a Running job whose lease expired, and counts attempts', async () => {
    const id = await newJob();
    await store.apply(id, 'start', { lease: lease('a'), incrementAttempts: true, deadline: new Date(Date.now() - 1000) });
    const taken = await start(id, lease('b'));
    expect(taken.kind).to.equal('applied');
    expect(taken.kind === 'applied' && [taken.job.lease, taken.job.attempts]).to.deep.equal([lease('b'), 2]);
  });

  it('refuses a start once attempts are spent', async () => {
    const id = await newJob();
    for (const c of ['a', 'b', 'c']) {
      await store.apply(id, 'start', { lease: lease(c), incrementAttempts: true, deadline: new Date(0) }, { maxAttempts: 3 });
    }
    expect((await start(id, lease('d'))).kind).to.equal('conflict');
  });

  it('completion: only the current lease wins; a duplicate is recognised; a stale one conflicts', async () => {
    const id = await newJob();
    await start(id, lease('a'));
    const done = { summary: 'ok', finishedNow: true };
    expect((await store.apply(id, 'succeed', done, { lease: lease('b') })).kind).to.equal('conflict');
    expect((await store.apply(id, 'succeed', done, { lease: lease('a') })).kind).to.equal('applied');
    expect((await store.apply(id, 'succeed', done, { lease: lease('a') })).kind).to.equal('duplicate');
    expect((await store.apply(id, 'fail', { reason: 'late' }, { lease: lease('a') })).kind).to.equal('conflict');
    expect((await store.apply(id, 'force-fail', { reason: 'reaper' })).kind).to.equal('conflict');
    const job = await store.get(id);
    expect(job).to.include({ status: 'Success', summary: 'ok', reason: null });
    expect((await store.events(id)).map((e) => `${e.event}:${e.status}`)).to.deep.equal(['start:Running', 'succeed:Success']);
    expect(job?.finishedAt).to.be.instanceOf(Date);
  });

  it('concurrent completions for one job: exactly one is applied', async () => {
    const id = await newJob();
    await start(id, lease('a'));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      store.apply(id, i % 2 ? 'succeed' : 'fail', { reason: i % 2 ? null : 'x', finishedNow: true }, { lease: lease('a') })));
    expect(results.filter((r) => r.kind === 'applied')).to.have.length(1);
  });

  it('lists what the reaper must handle: expired leases, unconfirmed retries, stale unconfirmed submissions', async () => {
    const expired = await newJob();
    await store.markQueued(expired);
    await store.apply(expired, 'start', { lease: lease('e'), deadline: new Date(Date.now() - 5000) });
    const live = await newJob();
    await store.markQueued(live);
    await store.apply(live, 'start', { lease: lease('f'), deadline: new Date(Date.now() + 60_000) });
    const waiting = await newJob();
    await store.markQueued(waiting);
    const unconfirmed = await newJob();
    const retry = await newJob();
    await store.apply(retry, 'start', { lease: lease('g'), incrementAttempts: true });
    await store.apply(retry, 'release', { lease: null, queued: false }, { lease: lease('g') });
    const ids = (cutoff: Date): Promise<string[]> => store.listReapable(cutoff, 1000).then((js) => js.map((j) => j.id));
    const now = await ids(new Date(Date.now() - 60_000));
    expect(now).to.include.members([expired, retry]);
    expect(now).to.not.include.members([live, waiting, unconfirmed]);
    expect(await ids(new Date(Date.now() + 60_000))).to.include(unconfirmed);
    expect(await store.removeAbandoned(retry)).to.equal(false);
    expect(await store.removeAbandoned(waiting)).to.equal(false);
    expect(await store.removeAbandoned(unconfirmed)).to.equal(true);
    expect(await store.get(unconfirmed)).to.equal(undefined);
  });

  it('lists reapable jobs of every kind together, lowest ids first, at most the limit', async () => {
    const expired = await newJob();
    await store.markQueued(expired);
    await store.apply(expired, 'start', { lease: lease('h'), deadline: new Date(Date.now() - 5000) });
    const unconfirmed = await newJob();
    const handedBack = await newJob();
    await store.markQueued(handedBack);
    // The unconfirmed one was handed back too: two branches of the scan find it, it is listed once.
    await store.pool.query('UPDATE jobs SET infra_since = ? WHERE id IN (?, ?)', [new Date(Date.now() - 3600_000), handedBack, unconfirmed]);
    const cutoff = new Date(Date.now() + 60_000);
    const all = (await store.listReapable(cutoff, 1000, new Date(Date.now() - 60_000))).map((j) => j.id);
    expect(all).to.include.members([expired, unconfirmed, handedBack]);
    expect(all).to.deep.equal([...all].sort((a, b) => Number(a) - Number(b)));
    expect(new Set(all).size).to.equal(all.length);
    const two = (await store.listReapable(cutoff, 2, new Date(Date.now() - 60_000))).map((j) => j.id);
    expect(two).to.deep.equal(all.slice(0, 2));
  });

  it('a full pool queue (more reads waiting than queueLimit) is OVERLOADED with Retry-After, not DATABASE_UNAVAILABLE; the database serves the rest', async () => {
    const id = await newJob();
    const small = new JobStore({ host: '127.0.0.1', user: db.user, password: db.password, database: db.name, connectionLimit: 1, queueLimit: 2 });
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => small.get(id)));
      const codes = outcomes.map((o) => (o.status === 'fulfilled' ? (o.value?.id === id ? 'ok' : 'wrong row') : (o.reason as { code?: string }).code));
      expect(new Set(codes)).to.deep.equal(new Set(['ok', 'OVERLOADED']));
      const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).to.include({ status: 503, retryAfter: 1 });
      expect(await small.get(id)).to.include({ id });
    } finally {
      await small.close();
    }
  });

  it('a database that goes away is still DATABASE_UNAVAILABLE, for a store with a small queue too', async () => {
    const id = await newJob();
    const link = new TcpSwitch({ host: '127.0.0.1', port: 3306 });
    await link.on();
    const small = new JobStore({ host: '127.0.0.1', port: link.port, user: db.user, password: db.password, database: db.name, connectionLimit: 1, queueLimit: 2 });
    try {
      expect(await small.get(id)).to.include({ id });
      await link.off();
      const err = await small.get(id).then(() => undefined, (e: unknown) => e);
      expect(err).to.include({ code: 'DATABASE_UNAVAILABLE', status: 503 });
    } finally {
      await small.close();
      await link.off();
    }
  });

  it('translates an unreachable database into DATABASE_UNAVAILABLE', async () => {
    const dead = new JobStore({ host: '127.0.0.1', port: 1, user: 'x', password: 'x', database: 'x' });
    try {
      await dead.get('1');
      expect.fail('should have thrown');
    } catch (err) {
      expect((err as { code: string; status: number }).code).to.equal('DATABASE_UNAVAILABLE');
      expect((err as { status: number }).status).to.equal(503);
    } finally {
      await dead.close();
    }
  });
});

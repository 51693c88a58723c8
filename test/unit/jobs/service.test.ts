import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Engine } from '../../../src/engines/engines.js';
import { UnavailableError } from '../../../src/errors.js';
import { STATUS, TRANSITIONS, type Job, type JobEvent } from '../../../src/jobs/job.js';
import { JobService } from '../../../src/jobs/service.js';
import type { ApplyFields, ApplyGuard, ApplyResult, JobStore } from '../../../src/jobs/store.js';
import { FileStore } from '../../../src/storage/file-store.js';

/** An in-memory JobStore: the same conditional transitions as the SQL (TRANSITIONS + guards). */
class FakeStore {
  readonly rows = new Map<string, Job>();
  #next = 1;

  async create(j: { engine: string; filename: string; size: number; sha256: string; owner?: string | null }): Promise<string> {
    const id = String(this.#next++);
    this.rows.set(id, {
      id, ...j, owner: j.owner ?? null, status: STATUS.waiting, attempts: 0, lease: null, reason: null, summary: '', resultSize: null, worker: null,
      lastError: null, createdAt: new Date(), startedAt: null, finishedAt: null, deadline: null, queued: false, containment: null, infraSince: null,
      retryOf: null, cached: false, imageDigest: null, callback: null,
    });
    return id;
  }
  async get(id: string): Promise<Job | undefined> {
    const row = this.rows.get(id);
    return row && { ...row };
  }
  async markQueued(id: string): Promise<void> {
    const row = this.rows.get(id);
    if (row) row.queued = true;
  }
  async removeAbandoned(id: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || row.status !== STATUS.waiting || row.queued || row.attempts > 0) return false;
    return this.rows.delete(id);
  }
  async apply(id: string, event: JobEvent, f: ApplyFields = {}, g: ApplyGuard = {}): Promise<ApplyResult> {
    const row = this.rows.get(id);
    if (!row) return { kind: 'missing' };
    const t = TRANSITIONS[event];
    const ok = t.from.includes(row.status) && (g.lease === undefined || row.lease === g.lease)
      && (g.maxAttempts === undefined || row.attempts < g.maxAttempts)
      && (!g.runningOnlyIfExpired || row.status !== STATUS.running || (row.deadline?.getTime() ?? 0) < Date.now());
    if (!ok) return { kind: 'conflict', job: { ...row } };
    row.status = t.to;
    if (f.lease !== undefined) row.lease = f.lease;
    if (f.reason !== undefined) row.reason = f.reason;
    if (f.summary !== undefined) row.summary = f.summary;
    if (f.deadline !== undefined) row.deadline = f.deadline;
    if (f.lastError !== undefined) row.lastError = f.lastError;
    if (f.queued !== undefined) row.queued = f.queued;
    if (f.incrementAttempts) row.attempts++;
    if (f.startedNow) row.startedAt = new Date();
    if (f.finishedNow) row.finishedAt = new Date();
    return { kind: 'applied', job: { ...row } };
  }
}

const engine: Engine = {
  name: 'copy', workers: 1, image: 'x', cmd: ['/x'], mountpoint: '/data', sizelimit: 1024, inputfilename: 'sample', user: '65534:65534',
  timeoutMs: 10_000, containment: { network: 'none', readonly: true, memoryBytes: 64 << 20, nanoCpus: 1e9, pids: 32, tmpfs: {}, resultLimit: 1024, logLimit: 1024 },
};

describe('jobs/service: the job lifecycle over a fake store and a real file store', () => {
  let dir: string;
  let files: FileStore;
  let store: FakeStore;
  let published: string[];
  let brokerDown: boolean;
  const service = (): JobService => new JobService({
    store: store as unknown as JobStore, files, engines: [engine], maxAttempts: 2, graceMs: 1000, leaseMs: 30_000,
    queue: { publish: async (m) => {
      if (brokerDown) throw new UnavailableError('BROKER_UNAVAILABLE', 'down');
      published.push(m.jobId);
    } },
  });
  const upload = async (text: string) => {
    const path = files.tmpPath();
    await writeFile(path, text);
    return { path, size: text.length, sha256: 'x'.repeat(64), head: Buffer.from(text) };
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'svc-'));
    files = new FileStore(dir);
    await files.init();
    store = new FakeStore();
    published = [];
    brokerDown = false;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a submission the broker does not confirm leaves no row and no file', async () => {
    brokerDown = true;
    const err = await service().submit(engine, await upload('abc'), 'a').catch((e: unknown) => e);
    expect((err as { code?: string }).code).to.equal('BROKER_UNAVAILABLE');
    expect(store.rows.size).to.equal(0);
    expect((await readdir(dir)).filter((n) => n !== '.tmp')).to.deep.equal([]);
  });

  it('a confirmed submission is stored, queued and published once', async () => {
    const id = await service().submit(engine, await upload('abc'), 'a');
    expect(published).to.deep.equal([id]);
    expect(store.rows.get(id)).to.include({ status: STATUS.waiting, queued: true });
    expect(await readFile(files.path(id, 'input'), 'utf8')).to.equal('abc');
    expect(await service().view(id)).to.deep.equal({ status: STATUS.waiting, summary: '', link: '' });
  });

  it('a second start under a live lease is JOB_BUSY; a stale completion is refused and leaves no staging file', async () => {
    const s = service();
    const id = await s.submit(engine, await upload('abc'), 'a');
    const started = await s.start(id, 'w1');
    expect(started.attempt).to.equal(1);
    expect(((await s.start(id, 'w2').catch((e: unknown) => e)) as { code?: string }).code).to.equal('JOB_BUSY');
    const stale = await s.succeed(id, 'f'.repeat(32), Readable.from([Buffer.from('late')])).catch((e: unknown) => e);
    expect((stale as { code?: string }).code).to.equal('STALE_LEASE');
    expect((await readdir(files.dir(id))).sort()).to.deep.equal(['input']);
    await s.succeed(id, started.lease, Readable.from([Buffer.from('the result')]));
    expect(await s.view(id)).to.deep.equal({ status: STATUS.success, summary: 'the result', link: `/link/${id}` });
    expect((await readdir(files.dir(id))).sort()).to.deep.equal(['input', 'result']);
  });

  it('spent attempts fail the job with a fixed public text: the last error stays in the row only', async () => {
    const s = service();
    const id = await s.submit(engine, await upload('abc'), 'a');
    for (let i = 0; i < 2; i++) {
      const { lease } = await s.start(id, 'w');
      await s.release(id, lease, 'connect ECONNREFUSED /var/run/docker.sock');
    }
    expect(((await s.start(id, 'w').catch((e: unknown) => e)) as { code?: string }).code).to.equal('JOB_FINISHED');
    const view = await s.view(id);
    expect(view.status).to.equal(STATUS.fail);
    expect(view.summary).to.match(/^gave up after 2 attempts/);
    const { stream } = await s.openLink(id);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).to.not.match(/ECONNREFUSED|docker\.sock/);
    expect(store.rows.get(id)?.lastError).to.match(/ECONNREFUSED/);
  });
});

import { expect } from 'chai';
import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { get, startApiFixture, type ApiFixture } from '../support/api-v1.js';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('e2e: API v1 read routes (tokens mode)', function () {
  this.timeout(120_000);
  let f: ApiFixture;
  let url: string;
  const code = (r: { json: () => any }): string => r.json().error.code;

  let imageId: string;

  before(async () => {
    f = await startApiFixture();
    url = f.stack.url;
    imageId = (await new Docker().getImage('menagerie/md5:latest').inspect()).Id;
  });
  after(async () => {
    await f?.close();
  });

  describe('every route refuses a missing token (401), a worker token (403)', () => {
    for (const path of ['/api/v1/engines', '/api/v1/jobs', '/api/v1/jobs/1', '/api/v1/jobs/1/log', '/api/v1/jobs/1/result']) {
      it(`GET ${path}`, async () => {
        const none = await get(url, path);
        expect([none.status, code(none)]).to.deep.equal([401, 'UNAUTHORIZED']);
        expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
        const wrong = await get(url, path, 'mgt_not-a-real-token-at-all-000000000000000');
        expect(wrong.status).to.equal(401);
        const worker = await get(url, path, f.tokens.worker);
        expect([worker.status, code(worker)]).to.deep.equal([403, 'FORBIDDEN']);
      });
    }
  });

  describe('GET /api/v1/engines', () => {
    it('lists the engine with its limits, containment and queue depth for read, submit and admin tokens', async () => {
      for (const token of [f.tokens.read, f.tokens.alice, f.tokens.admin]) {
        const r = await get(url, '/api/v1/engines', token);
        expect(r.status).to.equal(200);
        const [e] = r.json().engines;
        // digest and slots: what menage reported (the image id of menagerie/md5:latest, its 2 slots).
        expect(e).to.deep.include({ name: 'md5', image: 'menagerie/md5:latest', digest: imageId, workers: 2, sizelimit: 1024 * 1024,
          timeout: 20, cache: false });
        expect(e.slots.total).to.equal(2);
        expect(e.slots.busy).to.be.within(0, 2);
        expect(e.containment).to.deep.equal({ memory: 64 * 1024 * 1024, cpus: 1, pids: 64, network: 'none', readonly: true, apparmor: false, seccomp: false });
        expect(e.queue.depth).to.equal(0); // every job has run: the broker's queue is empty
      }
    });
  });

  describe('GET /api/v1/jobs/:id', () => {
    it('gives the full record to the owner, a read and an admin token', async () => {
      const job = f.alice[0]!;
      for (const token of [f.tokens.alice, f.tokens.read, f.tokens.admin]) {
        const r = await get(url, `/api/v1/jobs/${job.id}`, token);
        expect(r.status).to.equal(200);
        const rec = r.json();
        expect(rec).to.deep.include({ jobid: job.id, engine: 'md5', filename: job.filename, size: 100, sha256: sha256(job.body),
          status: 'Success', reason: '', summary: `${md5(job.body)}\n`, link: `/link/${job.id}`, log: `/jobs/${job.id}/log`,
          attempts: 1, owner: 'alice', cached: false, retryOf: null, imageDigest: imageId });
        expect(rec.created).to.match(/Z$/);
        expect(rec.finished).to.match(/Z$/);
      }
    });

    it('is a 404 for another owner\'s job, as for a job that does not exist', async () => {
      const other = await get(url, `/api/v1/jobs/${f.bob.id}`, f.tokens.alice);
      const missing = await get(url, '/api/v1/jobs/999999999', f.tokens.alice);
      expect([other.status, code(other)]).to.deep.equal([404, 'JOB_NOT_FOUND']);
      expect([missing.status, code(missing)]).to.deep.equal([404, 'JOB_NOT_FOUND']);
      expect(other.json().error.message.replace(f.bob.id, 'N')).to.equal(missing.json().error.message.replace('999999999', 'N'));
    });

    it('refuses a malformed id (400)', async () => {
      const r = await get(url, '/api/v1/jobs/01', f.tokens.read);
      expect([r.status, code(r)]).to.deep.equal([400, 'INVALID_JOB_ID']);
    });

    it('leaves the original GET /jobs/:id answer\'s fields unchanged', async () => {
      const r = await get(url, `/jobs/${f.alice[0]!.id}`, f.tokens.alice);
      expect(Object.keys(r.json())).to.deep.equal(['jobid', 'engine', 'filename', 'size', 'sha256', 'status', 'reason', 'summary',
        'link', 'log', 'attempts', 'created', 'started', 'finished', 'containment']);
    });
  });

  describe('GET /api/v1/jobs/:id/log and /result', () => {
    it('gives the result bytes as /link does, and the log as text', async () => {
      const job = f.alice[1]!;
      const res = await get(url, `/api/v1/jobs/${job.id}/result`, f.tokens.alice);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal(`${md5(job.body)}\n`);
      expect(res.headers.get('content-type')).to.equal('application/octet-stream');
      expect(res.headers.get('content-disposition')).to.equal(`attachment; filename="result-${job.id}"`);
      const link = await get(url, `/link/${job.id}`, f.tokens.alice);
      // Every answer has a date and its own request id (the access log's).
      const same = ([k]: [string, string]): boolean => k !== 'date' && k !== 'x-request-id';
      expect([...link.headers].filter(same)).to.deep.equal([...res.headers].filter(same));
      const log = await get(url, `/api/v1/jobs/${job.id}/log`, f.tokens.read);
      expect(log.status).to.equal(200);
      expect(log.headers.get('content-type')).to.equal('text/plain; charset=utf-8');
    });

    it('are 404 for another owner\'s job', async () => {
      for (const tail of ['log', 'result']) {
        const r = await get(url, `/api/v1/jobs/${f.bob.id}/${tail}`, f.tokens.alice);
        expect([r.status, code(r)]).to.deep.equal([404, 'JOB_NOT_FOUND']);
      }
    });

    it('a job that has not finished has no result yet (409)', async () => {
      const id = await f.stack.frontend.store.create({ engine: 'md5', filename: 'w', size: 1, sha256: 'a'.repeat(64), owner: 'alice' });
      const r = await get(url, `/api/v1/jobs/${id}/result`, f.tokens.alice);
      expect([r.status, code(r)]).to.deep.equal([409, 'JOB_NOT_FINISHED']);
      const rec = (await get(url, `/api/v1/jobs/${id}`, f.tokens.alice)).json();
      expect(rec).to.deep.include({ status: 'Received', link: '', summary: '', started: null, finished: null });
    });
  });

  describe('GET /api/v1/jobs', () => {
    const ids = (r: { json: () => any }): string[] => r.json().jobs.map((j: { jobid: string }) => j.jobid);

    it('a submit token sees its owner\'s jobs only, newest first; a read token sees all', async () => {
      const mine = await get(url, '/api/v1/jobs?status=Success', f.tokens.alice);
      expect(mine.status).to.equal(200);
      expect(ids(mine)).to.deep.equal(f.alice.map((j) => j.id).reverse());
      expect(mine.json().next).to.equal(null);
      const all = await get(url, '/api/v1/jobs?status=Success', f.tokens.read);
      expect(ids(all)).to.deep.equal([f.bob.id, ...f.alice.map((j) => j.id).reverse()]);
    });

    it('filters by engine, status, filename, sha256 and created range', async () => {
      const a2 = f.alice[1]!;
      const one = async (q: string): Promise<string[]> => ids(await get(url, `/api/v1/jobs?${q}`, f.tokens.read));
      expect(await one(`sha256=${sha256(a2.body)}`)).to.deep.equal([a2.id]);
      expect(await one(`sha256=${sha256(a2.body).toUpperCase()}`)).to.deep.equal([a2.id]);
      expect(await one('filename=a2.bin')).to.deep.equal([a2.id]);
      expect(await one('filename=a2')).to.deep.equal([]); // exact, not a prefix
      expect(await one('engine=md5&status=Fail')).to.deep.equal([]);
      expect(await one('engine=other&status=Success')).to.deep.equal([]);
      expect(await one('status=Success,Fail&engine=md5')).to.have.length(4);
      expect(await one('created_after=2000-01-01&created_before=2001-01-01')).to.deep.equal([]);
      const now = new Date().toISOString();
      expect(await one(`status=Success&created_after=2000-01-01T00:00:00Z&created_before=${encodeURIComponent(now)}`)).to.have.length(4);
      expect(await one(`status=Success&created_after=${encodeURIComponent(now)}`)).to.deep.equal([]);
    });

    it('pages with a cursor bound to its filters', async () => {
      const first = await get(url, '/api/v1/jobs?status=Success&limit=3', f.tokens.read);
      expect(ids(first)).to.have.length(3);
      const next = first.json().next as string;
      expect(next).to.be.a('string');
      const second = await get(url, `/api/v1/jobs?status=Success&limit=3&cursor=${next}`, f.tokens.read);
      expect(ids(second)).to.deep.equal([f.alice[0]!.id]);
      expect(second.json().next).to.equal(null);
      const other = await get(url, `/api/v1/jobs?status=Success,Fail&limit=3&cursor=${next}`, f.tokens.read);
      expect([other.status, code(other)]).to.deep.equal([400, 'INVALID_CURSOR']);
      const otherScope = await get(url, `/api/v1/jobs?status=Success&limit=3&cursor=${next}`, f.tokens.alice);
      expect([otherScope.status, code(otherScope)]).to.deep.equal([400, 'INVALID_CURSOR']);
      const garbage = await get(url, '/api/v1/jobs?cursor=bm90LWpzb24', f.tokens.read);
      expect([garbage.status, code(garbage)]).to.deep.equal([400, 'INVALID_CURSOR']);
    });

    for (const [q, what] of [['limit=0', 'limit'], ['limit=201', 'limit'], ['limit=abc', 'limit'], ['status=Done', 'status'],
      ['sha256=abc', 'sha256'], ['created_after=yesterday', 'created_after'], ['created_before=2026-02-30', 'created_before'],
      ['created_after=2026-01-01T10:00:00', 'created_after'], ['created_after=2026-02-01&created_before=2026-01-01', 'created_after'],
      ['engine=Bad!', 'engine'], ['state=Fail', 'unknown parameter'], ['engine=a&engine=b', 'engine'], ['filename=', 'filename']]) {
      it(`refuses ${q} (400 naming ${what})`, async () => {
        const r = await get(url, `/api/v1/jobs?${q}`, f.tokens.read);
        expect([r.status, code(r)]).to.deep.equal([400, 'INVALID_PARAMETER']);
        expect(r.json().error.message).to.include(what);
      });
    }
  });

  it('a method a route does not take is a 405 with Allow', async () => {
    const r = await get(url, '/api/v1/jobs', f.tokens.admin, 'DELETE');
    expect([r.status, code(r)]).to.deep.equal([405, 'METHOD_NOT_ALLOWED']);
    expect(r.headers.get('allow')).to.include('GET');
  });
});

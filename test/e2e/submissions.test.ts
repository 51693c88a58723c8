import { expect } from 'chai';
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { jobRecord } from '../../src/jobs/record.js';
import { FileStore } from '../../src/storage/file-store.js';
import { makeTokens, post, TOKEN_KEY, waitFor } from '../support/job-control.js';
import { startStack, upload, waitDone, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

const docker = new Docker();

describe('e2e: submissions to several engines, idempotency keys, the result cache', function () {
  this.timeout(120_000);
  let stack: Stack;
  let t: Awaited<ReturnType<typeof makeTokens>>;
  const record = async (id: string): Promise<any> => jobRecord(await stack.frontend.service.get(id));
  const jobCount = async (): Promise<number> =>
    Number(((await stack.frontend.store.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM jobs'))[0][0] as { n: number }).n);
  const input = (id: string): string => join(stack.env.config.store.dir, id, 'input');

  before(async () => {
    stack = await startStack([
      testEngine('copy', { cache: true }), testEngine('copy2'), testEngine('small', { sizelimit: 100 }),
    ], { overrides: { auth: { mode: 'tokens', key: TOKEN_KEY } } });
    t = await makeTokens(stack);
  });
  after(async () => {
    await stack?.close();
  });

  it('one upload to two engines: one job each, the input stored once (hard links), each job keeps it when the other goes', async () => {
    const body = randomBytes(3000);
    const res = await post(stack.url, '/api/v1/submissions?engines=copy2,small', body.subarray(0, 80), t.alice);
    expect(res.status).to.equal(201);
    expect(res.json.jobs.map((j: { engine: string; cached: boolean }) => [j.engine, j.cached])).to.deep.equal([['copy2', false], ['small', false]]);
    const [a, b] = res.json.jobs.map((j: { jobid: string }) => j.jobid) as [string, string];
    for (const id of [a, b]) expect(await waitDone(stack.url, id, 30_000, t.alice)).to.include({ status: 'Success' });
    expect((await stat(input(a))).ino).to.equal((await stat(input(b))).ino);
    expect((await record(a)).owner).to.equal('alice');
    await new FileStore(stack.env.config.store.dir).removeJob(a);
    expect(await readFile(input(b))).to.deep.equal(body.subarray(0, 80));
    expect(await readdir(join(stack.env.config.store.dir, '.tmp')), 'no temporary file left').to.deep.equal([]);
  });

  it('the smallest size limit of the chosen engines applies (413 naming it); bad engine lists are refused', async () => {
    const before = await jobCount();
    const big = await post(stack.url, '/api/v1/submissions?engines=copy,small', 'x'.repeat(101), t.alice);
    expect([big.status, big.json.error.code]).to.deep.equal([413, 'UPLOAD_TOO_LARGE']);
    expect(big.json.error.message).to.include('100 bytes for engine small');
    const bad = await Promise.all(['', 'copy,', 'copy,copy', 'copy&engines=small'].map((q) => post(stack.url, `/api/v1/submissions?engines=${q}`, 'x', t.alice)));
    expect(bad.map((r) => [r.status, r.json.error.code])).to.deep.equal([
      [400, 'INVALID_ENGINES'], [400, 'INVALID_ENGINES'], [400, 'INVALID_ENGINES'], [400, 'INVALID_PARAMETER']]);
    const roles = await Promise.all([t.reader, undefined].map((tok) => post(stack.url, '/api/v1/submissions?engines=copy', 'x', tok)));
    expect(roles.map((r) => r.status)).to.deep.equal([403, 401]);
    expect(await jobCount(), 'nothing was created').to.equal(before);
    expect(await readdir(join(stack.env.config.store.dir, '.tmp'))).to.deep.equal([]);
  });

  it('an unknown engine is a 404 before the body is read', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${stack.url}/api/v1/submissions?engines=copy,nosuch`, {
        method: 'POST', headers: { authorization: `Bearer ${t.alice}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(50 * 1024 * 1024) },
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.write('--x\r\n'); // and never more: only an answer that does not wait for the body arrives
    });
    expect(answer.status).to.equal(404);
    expect(JSON.parse(answer.body).error.code).to.equal('UNKNOWN_ENGINE');
  });

  it('Idempotency-Key: a repeat returns the same job without creating one, also under concurrency; reuse for another request is 409', async () => {
    const key = `k-${randomBytes(6).toString('hex')}`;
    const headers = { 'idempotency-key': key };
    const first = await post(stack.url, '/copy2/upload', 'same body', t.alice, headers);
    expect(first.status).to.equal(200);
    const before = await jobCount();
    const again = await post(stack.url, '/copy2/upload', 'same body', t.alice, headers);
    expect(again.json).to.deep.equal(first.json);
    expect(await jobCount()).to.equal(before);
    const otherBody = await post(stack.url, '/copy2/upload', 'other body', t.alice, headers);
    const otherEngine = await post(stack.url, '/small/upload', 'same body', t.alice, headers);
    expect([otherBody, otherEngine].map((r) => [r.status, r.json.error.code])).to.deep.equal([[409, 'IDEMPOTENCY_KEY_REUSED'], [409, 'IDEMPOTENCY_KEY_REUSED']]);
    const bob = await post(stack.url, '/copy2/upload', 'same body', t.bob, headers);
    expect(bob.json.jobid, 'keys are per token').to.not.equal(first.json.jobid);
    const bad = await post(stack.url, '/copy2/upload', 'x', t.alice, { 'idempotency-key': 'a b' });
    expect([bad.status, bad.json.error.code]).to.deep.equal([400, 'INVALID_IDEMPOTENCY_KEY']);

    const concurrent = `c-${randomBytes(6).toString('hex')}`;
    const n0 = await jobCount();
    const many = await Promise.all(Array.from({ length: 8 }, () =>
      post(stack.url, '/api/v1/submissions?engines=copy2,small', 'concurrent', t.alice, { 'idempotency-key': concurrent })));
    expect(many.map((r) => r.status)).to.deep.equal(many.map(() => 201));
    expect(new Set(many.map((r) => JSON.stringify(r.json))).size, 'all got the same jobs').to.equal(1);
    expect(await jobCount(), 'one job per engine, once').to.equal(n0 + 2);
  });

  it('result cache: the same file on the same image is answered at once from the earlier result; force=1 runs it again', async () => {
    const digest = (await docker.getImage('menagerie-test/behave:latest').inspect()).Id;
    // menage reports every statusIntervalSeconds (15 s): the last report may have caught an
    // earlier test's job still running.
    await waitFor('menage reports copy idle', async () => (stack.frontend.engineStatus.slots('copy')?.busy === 0 ? true : undefined), 40_000, 200);
    expect(stack.frontend.engineStatus.digest('copy'), 'menage reported the image').to.equal(digest);
    expect(stack.frontend.engineStatus.slots('copy')).to.deep.equal({ busy: 0, total: 2 });
    const body = `cache me ${randomBytes(4).toString('hex')}`;
    const first = (await upload(stack.url, 'copy', body, { token: t.alice })).json.jobid as string;
    await waitDone(stack.url, first, 30_000, t.alice);
    expect(await record(first)).to.include({ cached: false, imageDigest: digest });

    const second = (await upload(stack.url, 'copy', body, { token: t.bob })).json.jobid as string;
    const rec = await record(second);
    expect(rec, 'finished when the upload is answered').to.include({ status: 'Success', cached: true, imageDigest: digest, owner: 'bob', summary: body, started: null });
    const link = await fetch(`${stack.url}/link/${second}`, { headers: { authorization: `Bearer ${t.bob}` } });
    expect(await link.text()).to.equal(body);
    const sub = await post(stack.url, '/api/v1/submissions?engines=copy,copy2', body, t.alice);
    expect(sub.json.jobs.map((j: { engine: string; cached: boolean }) => [j.engine, j.cached]), 'copy2 has no cache').to.deep.equal([['copy', true], ['copy2', false]]);

    // Both hits are counted as such (and not as finished jobs: they ran nothing).
    const metrics = await (await fetch(`${stack.url}/metrics`, { headers: { authorization: `Bearer ${t.admin}` } })).text();
    expect(metrics).to.match(/^menagerie_jobs_cached_total\{engine="copy"\} 2$/m);
    expect(metrics).to.not.match(/^menagerie_jobs_cached_total\{engine="copy2"\}/m);
    const forced = (await post(stack.url, '/copy/upload?force=1', body, t.alice)).json.jobid as string;
    expect((await record(forced)).cached).to.equal(false);
    expect(await waitDone(stack.url, forced, 30_000, t.alice)).to.include({ status: 'Success', summary: body });
    const bad = await post(stack.url, '/copy/upload?force=yes', body, t.alice);
    expect([bad.status, bad.json.error.code]).to.deep.equal([400, 'INVALID_PARAMETER']);
  });

  it('no cache hit while the current image digest is unknown', async () => {
    const body = `unknown digest ${randomBytes(4).toString('hex')}`;
    const first = (await upload(stack.url, 'copy', body, { token: t.alice })).json.jobid as string;
    await waitDone(stack.url, first, 30_000, t.alice);
    // A node reports that it does not know its image: the nodes no longer agree on one.
    stack.frontend.engineStatus.report({ node: 'other-node', engines: [{ name: 'copy', digest: null, busy: 0, total: 1 }] });
    expect(stack.frontend.engineStatus.digest('copy')).to.equal(null);
    const second = (await upload(stack.url, 'copy', body, { token: t.alice })).json.jobid as string;
    expect((await record(second)).cached).to.equal(false);
    await waitFor('the second run', async () => ((await record(second)).status === 'Success' ? true : undefined));
  });
});

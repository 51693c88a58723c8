import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { RECHECK_MS } from '../../src/jobs/job-watch.js';
import { testEngine } from '../support/services.js';
import { startStack, upload, type Stack } from '../support/stack.js';

/**
 * `?wait=N` on `/result/<id>` and `/api/v1/jobs/<id>`: the answer comes when the job ends
 * (woken by the end itself, not by a periodic read), or when the time is up.
 */
describe('e2e: long-polled job reads (?wait=)', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack([
      testEngine('copy'),
      testEngine('nap', { cmd: ['/engine/sleep', '2'] }),
      testEngine('fail', { cmd: ['/engine/fail'] }),
      testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 300 }),
    ], { overrides: { jobs: { leaseSeconds: 60 } } });
  });
  after(async () => {
    await stack?.close();
  });

  const submit = async (engine: string, body = `long poll ${engine} ${Math.random()}`): Promise<string> => {
    const r = await upload(stack.url, engine, body);
    expect(r.status, JSON.stringify(r.json)).to.equal(200);
    return r.json.jobid as string;
  };
  const get = async (path: string, init: RequestInit = {}): Promise<{ status: number; json: any; ms: number; at: number }> => {
    const t = performance.now();
    const res = await fetch(`${stack.url}${path}`, init);
    const json = await res.json();
    return { status: res.status, json, ms: performance.now() - t, at: Date.now() };
  };
  /** How long after the job's recorded end the answer arrived. */
  const lateBy = async (id: string, answeredAt: number): Promise<number> =>
    answeredAt - (await stack.frontend.service.get(id)).finishedAt!.getTime();

  it('/result/<id>?wait=30 answers when the job ends, woken by its end', async () => {
    const id = await submit('nap');
    const r = await get(`/result/${id}?wait=30`);
    expect(r.status).to.equal(200);
    expect(r.json).to.deep.equal({ status: 'Success', summary: r.json.summary, link: `/link/${id}` });
    expect(r.ms, 'the engine sleeps 2 s').to.be.above(1500);
    const late = await lateBy(id, r.at);
    expect(late, `answered ${late} ms after the end: woken, not the ${RECHECK_MS} ms re-read`).to.be.below(1000);
    // The result is there the moment the answer says Success.
    expect((await fetch(`${stack.url}/link/${id}`)).status).to.equal(200);
  });

  it('/api/v1/jobs/<id>?wait=30 answers a failing job\'s record when it fails', async () => {
    const id = await submit('fail');
    const r = await get(`/api/v1/jobs/${id}?wait=30`);
    expect(r.status).to.equal(200);
    expect(r.json).to.include({ jobid: id, status: 'Fail' });
    expect(await lateBy(id, r.at)).to.be.below(1000);
  });

  it('a job that does not end in time: the unfinished view once the wait is up', async () => {
    const id = await submit('slow');
    const r = await get(`/result/${id}?wait=1`);
    expect(r.status).to.equal(200);
    expect(['Received', 'Running']).to.include(r.json.status);
    expect(r.json).to.include({ summary: '', link: '' });
    expect(r.ms).to.be.within(900, 3000);
    const v1 = await get(`/api/v1/jobs/${id}?wait=1`);
    expect(['Received', 'Running']).to.include(v1.json.status);
    expect(v1.ms).to.be.within(900, 3000);
  });

  it('a cancel ends the wait at once (every way a job ends wakes its waiters)', async () => {
    const id = await submit('slow');
    const waiting = get(`/api/v1/jobs/${id}?wait=30`);
    await sleep(500);
    const cancel = await fetch(`${stack.url}/api/v1/jobs/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).to.equal(200);
    const r = await waiting;
    expect(r.json).to.include({ status: 'Fail', reason: 'cancelled' });
    expect(await lateBy(id, r.at)).to.be.below(1000);
  });

  it('answers an ended job, an unknown job and a malformed id at once, with or without wait', async () => {
    const id = await submit('copy');
    await get(`/result/${id}?wait=30`);
    for (const path of [`/result/${id}?wait=30`, `/api/v1/jobs/${id}?wait=60`, `/result/${id}?wait=0`]) {
      const r = await get(path);
      expect([r.status, r.json.status], path).to.deep.equal([200, 'Success']);
      expect(r.ms, path).to.be.below(1000);
    }
    for (const path of ['/result/999999999?wait=30', '/api/v1/jobs/999999999?wait=30']) {
      const r = await get(path);
      expect([r.status, r.json.error.code], path).to.deep.equal([404, 'JOB_NOT_FOUND']);
      expect(r.ms, path).to.be.below(1000);
    }
    expect((await get('/result/x1?wait=30')).json.error.code).to.equal('INVALID_JOB_ID');
  });

  it('refuses a malformed wait (400 INVALID_PARAMETER) before reading anything', async () => {
    const id = await submit('copy');
    for (const wait of ['-1', 'abc', '61', '1.5', '', '100', '1e1', '%00', '30&wait=30', ' 5']) {
      for (const base of [`/result/${id}`, `/api/v1/jobs/${id}`]) {
        const r = await get(`${base}?wait=${wait}`);
        expect([r.status, r.json.error?.code], `${base}?wait=${wait}`).to.deep.equal([400, 'INVALID_PARAMETER']);
        expect(r.json.error.message).to.match(/^wait must be a whole number of seconds from 0 to 60/);
      }
    }
    expect(stack.frontend.service.watch.waiting).to.equal(0);
  });

  it('a client that leaves frees its wait', async () => {
    const id = await submit('slow');
    const left = new AbortController();
    const gone = fetch(`${stack.url}/result/${id}?wait=30`, { signal: left.signal }).catch(() => 'aborted');
    for (const until = Date.now() + 5000; stack.frontend.service.watch.waiting === 0 && Date.now() < until;) await sleep(20);
    expect(stack.frontend.service.watch.waiting, 'the request waits').to.equal(1);
    left.abort();
    expect(await gone).to.equal('aborted');
    for (const until = Date.now() + 5000; stack.frontend.service.watch.waiting > 0 && Date.now() < until;) await sleep(20);
    expect(stack.frontend.service.watch.waiting, 'the wait is released').to.equal(0);
  });

  it('a stopping frontend answers its waiting requests at once (last: it stops the stack\'s frontend)', async () => {
    const id = await submit('slow');
    const waiting = get(`/result/${id}?wait=60`);
    for (const until = Date.now() + 5000; stack.frontend.service.watch.waiting === 0 && Date.now() < until;) await sleep(20);
    const t = Date.now();
    const closed = stack.frontend.close();
    const r = await waiting;
    expect(r.status).to.equal(200);
    expect(['Received', 'Running']).to.include(r.json.status);
    expect(r.at - t, 'answered as the close began, not after the 60 s wait').to.be.below(2000);
    await closed;
  });
});

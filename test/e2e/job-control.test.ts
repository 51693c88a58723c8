import { expect } from 'chai';
import Docker from 'dockerode';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jobRecord } from '../../src/jobs/record.js';
import { call, createdContainers, makeTokens, TOKEN_KEY, waitFor } from '../support/job-control.js';
import { labelledContainers, startStack, upload, waitDone, waitNoContainers, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

const docker = new Docker();

describe('e2e: job control: cancel and retry (API v1)', function () {
  this.timeout(120_000);
  let stack: Stack;
  let t: Awaited<ReturnType<typeof makeTokens>>;
  // The API v1 record (GET /api/v1/jobs/<id> is the read side's), from the row.
  const record = async (id: string): Promise<any> => jobRecord(await stack.frontend.service.get(id));

  before(async () => {
    // A long lease (heartbeat every 20 s): a cancel that took effect only through a refused
    // heartbeat would take up to 20 s, so a prompt stop shows the broadcast works.
    stack = await startStack([testEngine('copy'), testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 300 })], {
      overrides: { auth: { mode: 'tokens', key: TOKEN_KEY }, jobs: { leaseSeconds: 60, maxAttempts: 3, reapGraceSeconds: 60 } },
    });
    t = await makeTokens(stack);
  });
  after(async () => {
    await stack?.close();
  });

  it('cancels a running job: its container is killed and removed at once, no result, Fail "cancelled"', async () => {
    const { json } = await upload(stack.url, 'slow', 'runs for an hour', { token: t.alice });
    const id = json.jobid as string;
    await waitFor('the container', async () => ((await labelledContainers(docker, stack.node)).length > 0 ? true : undefined));
    await waitFor('Running', async () => ((await record(id)).status === 'Running' ? true : undefined));
    const started = Date.now();
    const res = await call(stack.url, 'POST', `/api/v1/jobs/${id}/cancel`, t.alice);
    expect(res.status).to.equal(200);
    expect(res.json).to.include({ jobid: id, status: 'Fail', reason: 'cancelled', link: `/link/${id}`, owner: 'alice', cached: false, retryOf: null });
    expect(await waitNoContainers(docker, stack.node, 10_000)).to.deep.equal([]);
    const delay = Date.now() - started;
    console.log(`      (container gone ${delay} ms after the cancel answer was requested)`);
    expect(delay, 'the container stops well before the next heartbeat (20 s)').to.be.below(8000);
    expect(existsSync(join(stack.env.config.store.dir, id, 'result')), 'no result file').to.equal(false);
    const link = await fetch(`${stack.url}/link/${id}`, { headers: { authorization: `Bearer ${t.alice}` } });
    expect(link.headers.get('content-disposition')).to.include(`error-${id}`);
    expect(await link.text()).to.match(/^cancelled\nthe job was cancelled by token "alice" \(alice\) while Running/);
    await sleep(1000);
    expect((await record(id)).status, 'the worker did not bring it back').to.equal('Fail');
    expect(stack.logs.join('\n')).to.include(`job ${id}: cancelled; stopping its container`);
  });

  it('a finished job cannot be cancelled (409); another owner gets 404, a read token 403, no token 401', async () => {
    const { json } = await upload(stack.url, 'copy', 'quick', { token: t.alice });
    await waitDone(stack.url, json.jobid, 30_000, t.alice);
    const path = `/api/v1/jobs/${json.jobid}/cancel`;
    const answers = await Promise.all([t.alice, t.bob, t.reader, undefined].map((tok) => call(stack.url, 'POST', path, tok)));
    expect(answers.map((a) => [a.status, a.json.error.code])).to.deep.equal([
      [409, 'JOB_FINISHED'], [404, 'JOB_NOT_FOUND'], [403, 'FORBIDDEN'], [401, 'UNAUTHORIZED']]);
    expect((await call(stack.url, 'POST', '/api/v1/jobs/0x1/cancel', t.admin)).json.error.code).to.equal('INVALID_JOB_ID');
    expect((await call(stack.url, 'POST', '/api/v1/jobs/99999999/cancel', t.admin)).status).to.equal(404);
    expect((await record(json.jobid)).status, 'nothing changed').to.equal('Success');
  });

  it('an admin may cancel any owner\'s job', async () => {
    const { json } = await upload(stack.url, 'slow', 'bob waits', { token: t.bob });
    const res = await call(stack.url, 'POST', `/api/v1/jobs/${json.jobid}/cancel`, t.admin);
    expect([res.status, res.json.reason, res.json.owner]).to.deep.equal([200, 'cancelled', 'bob']);
    expect(await waitNoContainers(docker, stack.node, 10_000)).to.deep.equal([]);
  });

  it('retries a job: a new job with the same input (hard link) and engine, retryOf set; the old one stays', async () => {
    const { json } = await upload(stack.url, 'copy', 'retry me', { token: t.alice });
    const old = json.jobid as string;
    await waitDone(stack.url, old, 30_000, t.alice);
    const res = await call(stack.url, 'POST', `/api/v1/jobs/${old}/retry`, t.alice);
    expect(res.status).to.equal(201);
    const fresh = res.json.jobid as string;
    expect(fresh).to.match(/^[1-9][0-9]*$/).and.not.equal(old);
    expect(await waitDone(stack.url, fresh, 30_000, t.alice)).to.include({ status: 'Success', summary: 'retry me' });
    const [a, b] = [await record(old), await record(fresh)];
    expect(b).to.include({ engine: 'copy', filename: a.filename, sha256: a.sha256, size: a.size, retryOf: old, owner: 'alice', cached: false });
    expect(a).to.include({ status: 'Success', retryOf: null });
    const input = (id: string): string => join(stack.env.config.store.dir, id, 'input');
    expect(statSync(input(old)).ino, 'one copy of the bytes').to.equal(statSync(input(fresh)).ino);
    // Retention removes one job's folder: the other keeps its input.
    await stack.frontend.service.get(old);
    const { FileStore } = await import('../../src/storage/file-store.js');
    await new FileStore(stack.env.config.store.dir).removeJob(old);
    expect(await readFile(input(fresh), 'utf8')).to.equal('retry me');
    const again = await call(stack.url, 'POST', `/api/v1/jobs/${old}/retry`, t.alice);
    expect([again.status, again.json.error.code], 'the input is gone now').to.deep.equal([404, 'INPUT_MISSING']);
  });

  it('retry: another owner 404, a read token 403; an admin may retry any job, recorded under the admin', async () => {
    const { json } = await upload(stack.url, 'copy', 'mine', { token: t.alice });
    await waitDone(stack.url, json.jobid, 30_000, t.alice);
    const path = `/api/v1/jobs/${json.jobid}/retry`;
    const answers = await Promise.all([t.bob, t.reader, undefined].map((tok) => call(stack.url, 'POST', path, tok)));
    expect(answers.map((a) => [a.status, a.json.error.code])).to.deep.equal([[404, 'JOB_NOT_FOUND'], [403, 'FORBIDDEN'], [401, 'UNAUTHORIZED']]);
    const byAdmin = await call(stack.url, 'POST', path, t.admin);
    expect(byAdmin.status).to.equal(201);
    expect((await record(byAdmin.json.jobid)).owner, 'recorded under the caller').to.equal('root');
  });
});

describe('e2e: job control: a cancelled queued job never runs', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack([testEngine('copy')], { menage: false });
  });
  after(async () => {
    await stack?.close();
  });

  it('cancelled while queued: a worker that takes its message later finds it finished; no container is ever created', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const { json } = await upload(stack.url, 'copy', 'never runs');
    const id = json.jobid as string;
    const res = await call(stack.url, 'POST', `/api/v1/jobs/${id}/cancel`);
    expect(res.json).to.include({ status: 'Fail', reason: 'cancelled', started: null, attempts: 0 });
    const other = (await upload(stack.url, 'copy', 'runs')).json.jobid as string;
    await stack.startMenage();
    expect(await waitDone(stack.url, other)).to.include({ status: 'Success' });
    await waitFor('the cancelled message to be consumed', async () => (stack.logs.some((l) => l.includes(`job ${id}: not started (finished)`)) ? true : undefined));
    const rec = jobRecord(await stack.frontend.service.get(id));
    expect(rec).to.include({ status: 'Fail', reason: 'cancelled', started: null, attempts: 0 });
    const created = await createdContainers(docker, stack.node, since);
    expect(created, 'one container: the other job\'s').to.have.length(1);
    expect((await call(stack.url, 'POST', `/api/v1/jobs/${id}/cancel`)).status).to.equal(409);
  });
});

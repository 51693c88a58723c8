import { expect } from 'chai';
import { Readable } from 'node:stream';
import { CALLS, checkResponse, type CallName } from '../../../src/contract/index.js';
import { failJob, jobOfContainer } from '../../../src/enforcer/job-failer.js';
import { FrontendUnavailable } from '../../../src/errors.js';
import { FrontendClient } from '../../../src/menage/frontend-client.js';
import { startStack, upload, type Stack } from '../../support/stack.js';
import { testEngine } from '../../support/services.js';

/**
 * The worker's client, the enforcer's job failer and the frontend's routes agree on every
 * internal call: each client method hits the real internal listener, and its answer passes
 * the contract's schema (the client checks every answer and throws when one does not).
 */
describe('integration: the internal API contract, client against the real frontend', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: FrontendClient;
  const exercised = new Set<CallName>();
  const newJob = async (body = 'input'): Promise<string> => (await upload(stack.url, 'copy', body)).json.jobid as string;
  const started = async (id: string) => {
    const s = await client.start(id, 'contract-test');
    if (typeof s === 'string') throw new Error(`job ${id} not started: ${s}`);
    return s;
  };

  before(async () => {
    stack = await startStack([testEngine('copy')], { menage: false, overrides: { jobs: { maxAttempts: 2, reapGraceSeconds: 60, leaseSeconds: 30 } } });
    client = new FrontendClient(stack.internalUrl, stack.env.config.internalToken);
  });
  after(async () => {
    await stack?.close();
  });

  it('health, start, status, input, heartbeat, log and result (with a report far above the old 16 KiB header cut)', async () => {
    expect(await client.health()).to.deep.equal({ status: 'ok' });
    exercised.add('health');
    const id = await newJob('the input');
    const s = await started(id);
    exercised.add('start');
    expect(s).to.include({ jobid: id, engine: 'copy', attempt: 1 });
    const status = await client.status(id);
    exercised.add('status');
    expect(status).to.include({ jobid: id, status: 'Running', lease: s.lease, attempts: 1, lastError: null });
    const input = await client.input(id, AbortSignal.timeout(10_000));
    exercised.add('input');
    const chunks: Buffer[] = [];
    for await (const c of input.stream) chunks.push(c as Buffer);
    expect([Buffer.concat(chunks).toString(), input.size]).to.deep.equal(['the input', 9]);
    expect(await client.heartbeat(id, s.lease)).to.equal('recorded');
    exercised.add('heartbeat');
    expect(await client.log(id, s.lease, 'engine said hello')).to.equal('recorded');
    exercised.add('log');
    const report = { network: 'none', capDrop: ['ALL'], padding: 'p'.repeat(200 * 1024) };
    expect(await client.result(id, s.lease, Readable.from([Buffer.from('the result')]), report, AbortSignal.timeout(10_000))).to.equal('recorded');
    exercised.add('result');
    const job = (await (await fetch(`${stack.url}/jobs/${id}`)).json()) as { status: string; containment: unknown };
    expect(job.status).to.equal('Success');
    expect(job.containment).to.deep.equal(report);
    expect(await (await fetch(`${stack.url}/link/${id}`)).text()).to.equal('the result');
    expect(await (await fetch(`${stack.url}/jobs/${id}/log`)).text()).to.equal('engine said hello');
  });

  it('result with the engine output in the same call: the log is stored before the job shows Success; a stale lease stores neither', async () => {
    const id = await newJob('merged');
    const s = await started(id);
    const output = `said ${'é'.repeat(3)}\n`;
    expect(await client.result(id, s.lease, Readable.from([Buffer.from('merged result')]), { network: 'none' }, AbortSignal.timeout(10_000), output)).to.equal('recorded');
    expect(await (await fetch(`${stack.url}/link/${id}`)).text()).to.equal('merged result');
    expect(await (await fetch(`${stack.url}/jobs/${id}/log`)).text()).to.equal(output);
    // Another lease: refused before anything is written.
    const other = await newJob('merged, stale');
    await started(other);
    expect(await client.result(other, 'c'.repeat(32), Readable.from([Buffer.from('late')]), null, AbortSignal.timeout(10_000), 'late output')).to.equal('stale');
    expect(await (await fetch(`${stack.url}/jobs/${other}/log`)).text(), 'no log').to.equal('');
    expect((await (await fetch(`${stack.url}/result/${other}`)).json()).status).to.equal('Running');
  });

  it('a result call with a malformed or oversized output length is refused and records nothing', async () => {
    const id = await newJob('framing');
    const s = await started(id);
    const put = (headers: Record<string, string>, body: string): Promise<Response> => fetch(`${stack.internalUrl}/internal/jobs/${id}/result`, {
      method: 'PUT', body, headers: { authorization: `Bearer ${stack.env.config.internalToken}`, 'x-menagerie-lease': s.lease, 'x-menagerie-report-length': '4', ...headers },
    });
    for (const [length, status, code] of [['-1', 400, 'INVALID_REQUEST'], ['01', 400, 'INVALID_REQUEST'], ['1e3', 400, 'INVALID_REQUEST'],
      [String(4 * 1024 * 1024 + 1), 413, 'BODY_TOO_LARGE'], ['500', 400, 'INVALID_REQUEST']] as const) {
      const res = await put({ 'x-menagerie-log-length': length }, 'nullshort');
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code], `log length ${length}`).to.deep.equal([status, code]);
    }
    expect((await (await fetch(`${stack.url}/result/${id}`)).json()).status, 'still running').to.equal('Running');
    expect(await (await fetch(`${stack.url}/jobs/${id}/log`)).text()).to.equal('');
    const ok = await put({ 'x-menagerie-log-length': '3' }, 'nulllogresult');
    expect(ok.status).to.equal(200);
    expect(await (await fetch(`${stack.url}/jobs/${id}/log`)).text()).to.equal('log');
    expect(await (await fetch(`${stack.url}/link/${id}`)).text()).to.equal('result');
  });

  it('fail with the detail kept as the log (one call); without a lease that is refused; a stale lease stores nothing', async () => {
    const id = await newJob('fails');
    const s = await started(id);
    expect(await client.fail(id, s.lease, 'exit code 2', 'the whole output\n', null, true)).to.equal('recorded');
    expect(await (await fetch(`${stack.url}/jobs/${id}/log`)).text()).to.equal('the whole output\n');
    expect(await (await fetch(`${stack.url}/link/${id}`)).text()).to.equal('exit code 2\nthe whole output\n');
    const headers = { authorization: `Bearer ${stack.env.config.internalToken}`, 'content-type': 'application/json' };
    const other = await newJob('fails, no lease');
    await started(other);
    const anonymous = await fetch(`${stack.internalUrl}/internal/jobs/${other}/fail`, { method: 'POST', headers, body: JSON.stringify({ reason: 'x', detail: 'y', log: true }) });
    expect([anonymous.status, ((await anonymous.json()) as { error: { code: string } }).error.code]).to.deep.equal([400, 'INVALID_REQUEST']);
    expect(await client.fail(other, 'd'.repeat(32), 'exit code 2', 'stale output', null, true)).to.equal('stale');
    expect(await (await fetch(`${stack.url}/jobs/${other}/log`)).text(), 'no log').to.equal('');
    expect((await (await fetch(`${stack.url}/result/${other}`)).json()).status).to.equal('Running');
  });

  it('fail and release, with and without the infrastructure flag; refusals come back as the contract says', async () => {
    const failed = await newJob();
    const f = await started(failed);
    expect(await client.fail(failed, f.lease, 'exit code 3', 'engine output', { network: 'none' })).to.equal('recorded');
    exercised.add('fail');
    expect(await client.fail(failed, f.lease, 'exit code 3', 'engine output', null), 'a repeat is idempotent').to.equal('recorded');
    expect(await client.fail(failed, 'b'.repeat(32), 'exit code 3', 'other', null)).to.equal('stale');
    const long = await newJob();
    const l = await started(long);
    expect(await client.fail(long, l.lease, `output not a regular file: ${'x'.repeat(400)}`, 'd'.repeat(2 * 1024 * 1024), null), 'cut to the contract, not refused').to.equal('recorded');
    expect(((await (await fetch(`${stack.url}/jobs/${long}`)).json()) as { reason: string }).reason).to.have.length(255);
    expect(await client.start(failed, 'w')).to.equal('finished');
    expect(await client.heartbeat(failed, f.lease)).to.equal('stale');

    const released = await newJob();
    const r = await started(released);
    expect(await client.release(released, r.lease, 'cannot create the container: connect ECONNREFUSED', true)).to.equal('recorded');
    exercised.add('release');
    expect(await client.release(released, r.lease, 'again')).to.equal('stale');
    expect((await client.status(released))?.lastError).to.include('ECONNREFUSED');
    const again = await started(released);
    expect(await client.start(released, 'other')).to.equal('busy');
    expect(await client.release(released, again.lease, 'shutting down', false)).to.equal('recorded');

    expect(await client.status('999999')).to.equal(undefined);
    expect(await client.start('999999', 'w')).to.equal('missing');
  });

  it("the enforcer's job failer fails a job through the same call (no lease) and gets a contract answer", async () => {
    const id = await newJob();
    await started(id);
    const logs: string[] = [];
    const ok = await failJob({ url: stack.internalUrl, internalToken: stack.env.config.internalToken, timeoutMs: 5000 }, id, 'memory-limit', 'no memory limit', (_l, m) => logs.push(m));
    expect([ok, logs]).to.deep.equal([true, []]);
    const view = (await (await fetch(`${stack.url}/result/${id}`)).json()) as unknown;
    expect(checkResponse('result', view).ok).to.equal(true);
    expect(view).to.include({ status: 'Fail' });
    expect((view as { summary: string }).summary).to.match(/^killed by policy: memory-limit\n/);
  });

  it('a client pointed at the public listener by mistake fails loudly; it never reads "no such job"', async () => {
    const id = await newJob();
    const wrong = new FrontendClient(stack.url, stack.env.config.internalToken);
    for (const attempt of [() => wrong.start(id, 'w'), () => wrong.status(id), () => wrong.heartbeat(id, 'a'.repeat(32))]) {
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(FrontendUnavailable);
      expect((err as Error).message).to.include('internal listener');
    }
    expect((await client.status(id))?.status, 'the job is untouched').to.equal('Received');
  });

  it('engines: a node\'s report (image digests, slots) reaches the frontend\'s board; a malformed one is refused', async () => {
    await client.reportEngines({ node: 'contract-node', engines: [{ name: 'copy', digest: 'sha256:abc', busy: 1, total: 2 }] });
    exercised.add('engines');
    expect(stack.frontend.engineStatus.digest('copy')).to.equal('sha256:abc');
    expect(stack.frontend.engineStatus.slots('copy')).to.deep.equal({ busy: 1, total: 2 });
    const bad = await fetch(`${stack.internalUrl}/internal/engines`, {
      method: 'PUT', headers: { authorization: `Bearer ${stack.env.config.internalToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ node: 'n', engines: [{ name: 'copy', digest: 'x', busy: -1, total: 2 }] }),
    });
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).to.deep.equal([400, 'INVALID_REQUEST']);
    const anonymous = await fetch(`${stack.internalUrl}/internal/engines`, { method: 'PUT', body: '{}' });
    expect(anonymous.status, 'guarded by the internal token like every internal call').to.equal(401);
  });

  it('container and containerJob: a warm-pool container is recorded under the lease, found by id, cleared by a new start; refusals', async () => {
    const id = await newJob();
    const s = await started(id);
    const container = 'c0ffee'.padEnd(64, '0');
    expect(await client.bindContainer(id, s.lease, container)).to.equal('recorded');
    expect(await client.bindContainer(id, s.lease, container), 'the same binding again (a retried call)').to.equal('recorded');
    exercised.add('container');
    expect(await client.containerJob(container)).to.include({ jobid: id, status: 'Running', attempts: 1 });
    exercised.add('containerJob');
    const logs: string[] = [];
    const target = { url: stack.internalUrl, internalToken: stack.env.config.internalToken, timeoutMs: 5000 };
    expect(await jobOfContainer(target, container, (_l, m) => logs.push(m))).to.include({ jobid: id, engine: 'copy' });
    expect(await client.bindContainer(id, 'f'.repeat(32), 'd'.repeat(64)), 'another lease').to.equal('stale');
    expect(await client.containerJob('e'.repeat(64)), 'no job recorded').to.equal(undefined);
    expect(await jobOfContainer(target, 'e'.repeat(64), (_l, m) => logs.push(m))).to.equal(undefined);
    expect(logs).to.deep.equal(['the frontend names no job for the warm-pool container']);
    const headers = { authorization: `Bearer ${stack.env.config.internalToken}`, 'content-type': 'application/json' };
    for (const bad of ['C0FFEE'.padEnd(64, '0'), 'abc', '../jobs/1', `${container}0`]) {
      const res = await fetch(`${stack.internalUrl}/internal/containers/${encodeURIComponent(bad)}`, { headers });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code], bad).to.deep.equal([400, 'INVALID_REQUEST']);
    }
    const malformed = await fetch(`${stack.internalUrl}/internal/jobs/${id}/container`, { method: 'PUT', headers, body: JSON.stringify({ lease: s.lease, container: 'xyz' }) });
    expect(malformed.status).to.equal(400);
    // The lease runs out; a new start (a new attempt, in a new container) clears the binding.
    await fetch(`${stack.internalUrl}/internal/jobs/${id}/release`, { method: 'POST', headers, body: JSON.stringify({ lease: s.lease, error: 'test' }) });
    await started(id);
    expect(await client.containerJob(container), 'cleared by the new start').to.equal(undefined);
  });

  it('every call of the contract was exercised by a client', () => {
    expect([...exercised].sort()).to.deep.equal(Object.keys(CALLS).sort());
  });
});

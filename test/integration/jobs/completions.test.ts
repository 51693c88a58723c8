import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startStack, upload, type Stack } from '../../support/stack.js';
import { testEngine } from '../../support/services.js';

/** Internal API calls as a worker makes them, against a frontend with no menage. */
describe('integration: completions through the internal API', function () {
  this.timeout(60_000);
  let stack: Stack;
  let auth: Record<string, string>;

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> => {
    const init: RequestInit = { method, headers: { ...auth, ...headers } };
    if (typeof body === 'string') init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const res = await fetch(`${stack.internalUrl}${path}`, init);
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  const start = (id: string) => call('POST', `/internal/jobs/${id}/start`, { worker: 'test' });
  const result = (id: string, lease: string, text: string) => call('PUT', `/internal/jobs/${id}/result`, text, { 'x-menagerie-lease': lease, 'x-menagerie-report-length': '0' });
  const newJob = async (): Promise<string> => (await upload(stack.url, 'copy', 'input')).json.jobid as string;

  before(async () => {
    stack = await startStack([testEngine('copy', { timeout: 1 })], {
      menage: false, overrides: { jobs: { maxAttempts: 2, reapGraceSeconds: 1, leaseSeconds: 3 } },
    });
    auth = { authorization: `Bearer ${stack.env.config.internalToken}` };
  });
  after(async () => {
    await stack?.close();
  });

  it('a duplicate completion with the same lease is answered 200 (idempotent) and changes nothing', async () => {
    const id = await newJob();
    const { json: s } = await start(id);
    expect((await result(id, s.lease, 'first')).status).to.equal(200);
    expect((await result(id, s.lease, 'second')).status).to.equal(200);
    expect((await call('POST', `/internal/jobs/${id}/fail`, { lease: s.lease, reason: 'x' })).status).to.equal(409);
    expect(await (await fetch(`${stack.url}/link/${id}`)).text()).to.equal('first');
    expect((await stack.frontend.store.events(id)).filter((e) => e.event === 'succeed')).to.have.length(1);
  });

  it('concurrent completions for one job: exactly one wins, the store holds its bytes', async () => {
    const id = await newJob();
    const { json: s } = await start(id);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2
      ? result(id, s.lease, `result ${i}`)
      : call('POST', `/internal/jobs/${id}/fail`, { lease: s.lease, reason: `fail ${i}` }))));
    // The winner's kind of completion is repeated idempotently (200); the other kind conflicts.
    expect(answers.filter((a) => a.status === 200)).to.have.length(4);
    expect(answers.filter((a) => a.status === 409)).to.have.length(4);
    const view = (await (await fetch(`${stack.url}/result/${id}`)).json()) as { status: string; summary: string };
    const bytes = await (await fetch(`${stack.url}/link/${id}`)).text();
    expect(bytes.startsWith(view.summary.trimEnd().split('\n')[0] ?? '')).to.equal(true);
    const events = await stack.frontend.store.events(id);
    expect(events.filter((e) => ['succeed', 'fail'].includes(e.event))).to.have.length(1);
  });

  it('a stale lease cannot complete; a second start is refused while the lease lives', async () => {
    const id = await newJob();
    const { json: s } = await start(id);
    const second = await start(id);
    expect(second.status).to.equal(409);
    expect(second.json.error.code).to.equal('JOB_BUSY');
    expect((await result(id, 'f'.repeat(32), 'stale')).status).to.equal(409);
    expect((await result(id, s.lease, 'ok')).status).to.equal(200);
    expect((await start(id)).json.error.code).to.equal('JOB_FINISHED');
  });

  it('a heartbeat keeps the lease; a completion for a job already reaped is refused', async () => {
    const id = await newJob();
    const { json: s } = await start(id);
    expect((await call('POST', `/internal/jobs/${id}/heartbeat`, { lease: s.lease })).status).to.equal(200);
    // No more heartbeats: the lease expires, the reaper requeues, then (attempts spent) fails it.
    const taken = await waitFor(async () => {
      const again = await start(id);
      return again.status === 200 ? again.json : undefined;
    });
    expect(taken.attempt).to.equal(2);
    expect((await result(id, s.lease, 'late')).status).to.equal(409);
    const done = await waitFor(async () => {
      const v = (await (await fetch(`${stack.url}/result/${id}`)).json()) as { status: string; summary: string };
      return v.status === 'Fail' ? v : undefined;
    });
    expect(done.summary).to.match(/^timeout/);
    expect((await result(id, taken.lease, 'too late')).status).to.equal(409);
    expect((await call('POST', `/internal/jobs/${id}/heartbeat`, { lease: taken.lease })).status).to.equal(409);
  });

  it('a released job is queued again with the error recorded', async () => {
    const id = await newJob();
    const { json: s } = await start(id);
    const released = await call('POST', `/internal/jobs/${id}/release`, { lease: s.lease, error: 'docker went away' });
    expect(released.json.status).to.equal('Received');
    const job = await stack.frontend.store.get(id);
    expect(job).to.include({ status: 'Received', lease: null, lastError: 'docker went away' });
  });

  it('the enforcer may fail an unfinished job without a lease, never a finished one', async () => {
    const id = await newJob();
    const forced = await call('POST', `/internal/jobs/${id}/fail`, { reason: 'killed by policy: memory-limit', detail: 'x' });
    expect(forced.status).to.equal(200);
    expect(forced.json).to.deep.include({ status: 'Fail', link: `/link/${id}` });
    expect(forced.json.summary).to.match(/^killed by policy: memory-limit/);
    expect((await call('POST', `/internal/jobs/${id}/fail`, { reason: 'again' })).status).to.equal(409);
  });

  it('the reaper removes a submission whose message was never confirmed (its client got no id)', async () => {
    const id = await stack.frontend.store.create({ engine: 'copy', filename: 'f', size: 1, sha256: 'a'.repeat(64) });
    await mkdir(join(stack.env.config.store.dir, id));
    await writeFile(join(stack.env.config.store.dir, id, 'input'), 'x');
    await waitFor(async () => ((await stack.frontend.store.get(id)) === undefined ? true : undefined));
    expect(existsSync(join(stack.env.config.store.dir, id))).to.equal(false);
    const queued = await newJob();
    await new Promise((r) => setTimeout(r, 2500));
    expect((await stack.frontend.store.get(queued))?.status).to.equal('Received');
  });

  it('refuses malformed internal requests with 400', async () => {
    const id = await newJob();
    const bad = await call('POST', `/internal/jobs/${id}/start`, '{not json', { 'content-type': 'application/json' });
    expect([bad.status, bad.json.error.code]).to.deep.equal([400, 'INVALID_JSON']);
    expect((await call('POST', `/internal/jobs/${id}/start`, {})).json.error.code).to.equal('INVALID_REQUEST');
    expect((await result(id, 'nope', 'x')).json.error.code).to.equal('INVALID_LEASE');
    expect((await call('POST', `/internal/jobs/${id}/fail`, { lease: 'zz', reason: 'x' })).json.error.code).to.equal('INVALID_LEASE');
  });
});

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

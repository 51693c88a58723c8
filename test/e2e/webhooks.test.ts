import { expect } from 'chai';
import { startFrontend } from '../../src/frontend.js';
import { WebhookOutbox } from '../../src/jobs/webhook-outbox.js';
import { call, post, startReceiver, waitFor, WEBHOOK_SECRET } from '../support/job-control.js';
import { startStack, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';
import { memoryLog } from '../support/log.js';

describe('e2e: webhooks', function () {
  this.timeout(120_000);
  let stack: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const failFirst: Record<string, number> = { '/flaky': 2, '/down': 1000 };
  const outbox = (): WebhookOutbox => new WebhookOutbox(stack.frontend.store.pool);

  before(async () => {
    receiver = await startReceiver(failFirst);
    stack = await startStack([testEngine('copy'), testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 300 })], {
      overrides: { webhooks: { allowedPrefixes: [receiver.url], secret: WEBHOOK_SECRET, firstRetrySeconds: 1, maxAttempts: 3 } },
    });
  });
  after(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('POSTs the final job record to the callback, signed; a submission names it once for all its jobs', async () => {
    const cb = encodeURIComponent(`${receiver.url}done`);
    const { json } = await post(stack.url, `/copy/upload?callback=${cb}`, 'hook me');
    const got = await waitFor('the delivery', async () => receiver.got.find((r) => r.body.jobid === json.jobid));
    expect(got.signed, 'the signature checks out').to.equal(true);
    expect(got.body).to.include({ jobid: json.jobid, engine: 'copy', status: 'Success', summary: 'hook me', link: `/link/${json.jobid}`, cached: false });
    expect(got.delivery).to.match(/^[0-9]+$/);
    expect(await outbox().of(json.jobid)).to.deep.include({ attempts: 1, delivered: true, gaveUp: false });
    const sub = await post(stack.url, `/api/v1/submissions?engines=copy,slow&callback=${cb}`, 'two');
    const [, slow] = sub.json.jobs.map((j: { jobid: string }) => j.jobid) as [string, string];
    await call(stack.url, 'POST', `/api/v1/jobs/${slow}/cancel`);
    for (const j of sub.json.jobs as { jobid: string }[]) await waitFor(`delivery for ${j.jobid}`, async () => receiver.got.find((r) => r.body.jobid === j.jobid));
    expect(receiver.got.find((r) => r.body.jobid === slow)?.body).to.include({ status: 'Fail', reason: 'cancelled' });
  });

  it('retries with backoff until the receiver accepts; gives up after maxAttempts', async () => {
    const flaky = (await post(stack.url, `/copy/upload?callback=${encodeURIComponent(`${receiver.url}flaky`)}`, 'flaky')).json.jobid as string;
    const down = (await post(stack.url, `/copy/upload?callback=${encodeURIComponent(`${receiver.url}down`)}`, 'down')).json.jobid as string;
    const got = await waitFor('the third attempt', async () => receiver.got.find((r) => r.body.jobid === flaky), 30_000);
    expect(got.signed).to.equal(true);
    expect(receiver.hits.get('/flaky')).to.equal(3);
    // The receiver has the body before the frontend has its answer: wait for the outbox row.
    const delivered = await waitFor('the delivery recorded', async () => {
      const s = await outbox().of(flaky);
      return s?.delivered ? s : undefined;
    }, 10_000);
    expect(delivered).to.deep.include({ attempts: 3, delivered: true });
    const state = await waitFor('giving up', async () => {
      const s = await outbox().of(down);
      return s?.gaveUp ? s : undefined;
    }, 30_000);
    expect(state).to.deep.include({ attempts: 3, delivered: false, lastError: 'the receiver answered 500' });
  });

  it('a callback outside the allowed prefixes is a 400 and nothing is created', async () => {
    for (const cb of ['http://127.0.0.2:1/x', 'https://example.com/', `${receiver.url.replace('127.0.0.1', 'localhost')}x`]) {
      const res = await post(stack.url, `/copy/upload?callback=${encodeURIComponent(cb)}`, 'x');
      expect([res.status, res.json.error.code], cb).to.deep.equal([400, 'INVALID_CALLBACK']);
    }
  });

  it('a delivery owed when the frontend stops is made by the next frontend (durable outbox)', async () => {
    failFirst['/later'] = 1000;
    const { json } = await post(stack.url, `/copy/upload?callback=${encodeURIComponent(`${receiver.url}later`)}`, 'later');
    await waitFor('a failed first attempt', async () => ((await outbox().of(json.jobid))?.attempts ? true : undefined));
    await stack.menage?.close(2000);
    await stack.frontend.close();
    failFirst['/later'] = 0;
    const next = await startFrontend(stack.env.config, memoryLog(stack.logs));
    try {
      const got = await waitFor('the delivery by the new frontend', async () => receiver.got.find((r) => r.body.jobid === json.jobid), 30_000);
      expect(got).to.deep.include({ signed: true });
      expect(got.body.status).to.equal('Success');
    } finally {
      await next.close();
    }
  });
});

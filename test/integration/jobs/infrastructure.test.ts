import { expect } from 'chai';
import { connect } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import { Reaper } from '../../../src/jobs/reaper.js';
import { names } from '../../../src/queue/topology.js';
import { amqpUrl, testEngine } from '../../support/services.js';
import { startStack, upload, type Stack } from '../../support/stack.js';
import { silentLogger } from '../../../src/log/logger.js';

/** Hand-backs for outages of our own services (JobService.release with `infrastructure`), on MariaDB and RabbitMQ. */
describe('integration: infrastructure hand-backs', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack([testEngine('copy')], {
      menage: false, overrides: { jobs: { maxAttempts: 2, leaseSeconds: 3, infrastructureTimeoutSeconds: 2 } },
    });
    // The tests run their own reaper scans; the stack's would race them for the same jobs.
    await stack.frontend.reaper.close();
  });
  after(async () => {
    await stack?.close();
  });

  const newJob = async (): Promise<string> => (await upload(stack.url, 'copy', 'input')).json.jobid as string;
  const queued = async (): Promise<number> => {
    const conn = await connect(amqpUrl());
    try {
      return (await (await conn.createChannel()).checkQueue(names(stack.env.config.rabbitmq.prefix).queue('copy'))).messageCount;
    } finally {
      await conn.close();
    }
  };

  it('gives the attempt back and publishes a fresh message; attempts never run out however often it happens', async () => {
    const { service, store } = stack.frontend;
    const id = await newJob();
    const before = await queued();
    for (let i = 0; i < 4; i++) {
      const started = await service.start(id, 'w');
      expect(started.attempt, `run ${i + 1} counts as the first attempt`).to.equal(1);
      await service.release(id, started.lease, 'cannot create the container: connect ECONNREFUSED /var/run/docker.sock', true);
    }
    const job = await store.get(id);
    expect(job).to.include({ status: 'Received', attempts: 0, queued: true });
    expect(job?.infraSince).to.be.instanceOf(Date);
    expect(await queued(), 'a fresh message per hand-back').to.equal(before + 4);
  });

  it('a release without the flag still counts (maxAttempts 2: the third start is refused)', async () => {
    const { service } = stack.frontend;
    const id = await newJob();
    for (let i = 0; i < 2; i++) await service.release(id, (await service.start(id, 'w')).lease, 'something else');
    let code = '';
    await service.start(id, 'w').catch((err: { code: string }) => (code = err.code));
    expect(code).to.equal('JOB_FINISHED');
    expect((await stack.frontend.store.get(id))?.reason).to.equal('gave up after 2 attempts');
  });

  it('after the timeout without progress the job fails as "infrastructure unavailable", with no driver text in its summary', async () => {
    const { service, store } = stack.frontend;
    const id = await newJob();
    await service.release(id, (await service.start(id, 'w')).lease, 'connect ECONNREFUSED /var/run/docker.sock', true);
    await sleep(2200);
    await service.release(id, (await service.start(id, 'w')).lease, 'connect ECONNREFUSED /var/run/docker.sock', true);
    const job = await store.get(id);
    expect(job).to.include({ status: 'Fail', reason: 'infrastructure unavailable' });
    expect(job?.summary).to.match(/^infrastructure unavailable\n/);
    expect(job?.summary).to.not.match(/ECONNREFUSED|docker\.sock/);
  });

  it('the reaper fails a waiting job whose outage has outlasted the timeout', async () => {
    const { service, store } = stack.frontend;
    const id = await newJob();
    await service.release(id, (await service.start(id, 'w')).lease, 'frontend answered 503', true);
    await sleep(2200);
    const reaper = new Reaper({ store, service, intervalMs: 1000, unqueuedGraceMs: 60_000, infrastructureTimeoutMs: 2000, log: silentLogger() });
    expect((await reaper.scan()).failed).to.be.at.least(1);
    expect(await store.get(id)).to.include({ status: 'Fail', reason: 'infrastructure unavailable' });
  });

  it('the reaper leaves expired leases alone for one lease period after it starts (workers renew them first)', async () => {
    const { service, store } = stack.frontend;
    const id = await newJob();
    const started = await service.start(id, 'w');
    await store.apply(id, 'heartbeat', { deadline: new Date(Date.now() - 1000) }, { lease: started.lease });
    const reaper = new Reaper({ store, service, intervalMs: 1000, unqueuedGraceMs: 60_000, settleMs: 1500, log: silentLogger() });
    expect((await reaper.scan()).requeued).to.equal(0);
    expect(await store.get(id)).to.include({ status: 'Running', lease: started.lease });
    await service.heartbeat(id, started.lease);
    expect((await store.get(id))?.deadline?.getTime()).to.be.greaterThan(Date.now());
    await store.apply(id, 'heartbeat', { deadline: new Date(Date.now() - 1000) }, { lease: started.lease });
    await sleep(1600);
    expect((await reaper.scan()).requeued).to.equal(1);
  });
});

import { expect } from 'chai';
import Docker from 'dockerode';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABELS } from '../../src/contract/labels.js';
import { DockerSwitch } from '../support/docker-switch.js';
import { FAULT_ENGINES, FaultStack } from '../support/fault-stack.js';
import { PrivateMariaDB, PrivateRabbit } from '../support/private-services.js';
import { testEngine, unique } from '../support/services.js';

/**
 * Outages of the services menage depends on must not spend a job's attempts nor its
 * deliveries: after the outage every job ends Success on its first counted attempt.
 */
describe('faults: outages of Docker and the frontend spend no attempts and no deliveries', function () {
  this.timeout(240_000);
  let db: PrivateMariaDB;
  let rabbit: PrivateRabbit;
  let stack: FaultStack | undefined;

  before(async () => {
    db = new PrivateMariaDB(join(tmpdir(), unique('outage-db-')));
    rabbit = new PrivateRabbit(join(tmpdir(), unique('outage-mq-')));
    await Promise.all([db.start(), rabbit.start()]);
  });
  after(async () => {
    await rabbit?.destroy();
    await db?.destroy();
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  /** Every job Success, each run counted once, none failed or dead-lettered. */
  async function expectAllSucceededOnce(s: FaultStack): Promise<void> {
    const rows = await s.query<{ id: string; status: string; attempts: number; reason: string | null }>('SELECT id, status, attempts, reason FROM jobs');
    expect(rows.length).to.equal(s.ids.length);
    expect(rows.filter((r) => r.status !== 'Success'), 'jobs not Success').to.deep.equal([]);
    expect(rows.filter((r) => Number(r.attempts) !== 1), 'jobs whose attempts the outage spent').to.deep.equal([]);
  }

  it('Docker unreachable for 12 s while jobs run and queue: all Success, attempts not spent', async () => {
    const sw = new DockerSwitch(join('/run', unique('mt-dsw-'), 'docker.sock'));
    try {
      await sw.on();
      stack = await FaultStack.start(db, rabbit, FAULT_ENGINES, { dockerSocket: sw.socket });
      for (let i = 0; i < 2; i++) await stack.submit('slow', `slow ${i}`);
      await sleep(1000);
      await sw.off();
      for (let i = 0; i < 6; i++) await stack.submit('quick', `quick ${i}`);
      await sleep(12_000);
      await sw.on();
      await stack.check('Docker unreachable 12 s', 120_000);
      await expectAllSucceededOnce(stack);
      const released = await stack.query<{ n: number }>(`SELECT COUNT(*) AS n FROM job_events WHERE event = 'release'`);
      expect(Number(released[0]?.n), 'jobs the outage handed back').to.be.greaterThan(0);
      expect(stack.menage.output).to.match(/circuit open: docker/).and.match(/circuit closed/);
    } finally {
      await stack?.close();
      stack = undefined;
      await sw.close();
    }
  });

  it('an engine seen exiting 255 only after Docker was away (a restarted daemon\'s "status lost") runs again uncounted; 255 seen live fails it', async () => {
    const sw = new DockerSwitch(join('/run', unique('mt-dsw-'), 'docker.sock'));
    try {
      await sw.on();
      stack = await FaultStack.start(db, rabbit, [testEngine('exit255', { cmd: ['/bin/sh', '-c', 'sleep 3; exit 255'], workers: 1 })], { dockerSocket: sw.socket });
      const id = await stack.submit('exit255', 'sample');
      // Cut Docker off while the engine runs (not before: a failed create is a plain outage).
      const direct = new Docker();
      for (const until = Date.now() + 30_000; ; await sleep(200)) {
        const running = await direct.listContainers({ filters: { label: [`${LABELS.job}=${id}`], status: ['running'] } });
        if (running.length > 0) break;
        if (Date.now() > until) throw new Error(`job ${id}: its container never ran`);
      }
      await sw.off();
      await sleep(6000); // the engine exits 255 meanwhile; menage's wait for it is cut
      await sw.on();
      await stack.check('exit 255 while Docker was away', 120_000);
      const [row] = await stack.query<{ status: string; attempts: number; reason: string }>('SELECT status, attempts, reason FROM jobs WHERE id = ?', [id]);
      const released = await stack.query<{ n: number }>(`SELECT COUNT(*) AS n FROM job_events WHERE job_id = ? AND event = 'release'`, [id]);
      expect(stack.menage.output, 'the first run is handed back as an outage').to.match(/exit code 255 seen only after the Docker daemon was away/);
      expect(Number(released[0]?.n), 'runs handed back').to.equal(1);
      expect(row, 'the second run saw 255 itself: the engine\'s own failure, on the first counted attempt').to.deep.include({ status: 'Fail', attempts: 1, reason: 'exit code 255' });
    } finally {
      await stack?.close();
      stack = undefined;
      await sw.close();
    }
  });

  it('the frontend away for 15 s with jobs queued: none dead-lettered, all Success on their first attempt', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES, { menage: false });
    for (let i = 0; i < 3; i++) await stack.submit('quick', `queued ${i}`);
    expect(stack.refused).to.equal(0);
    await stack.frontend.stop('SIGTERM');
    await stack.menage.start(/menage running/);
    await sleep(15_000);
    await stack.frontend.start(/frontend listening/);
    await stack.check('frontend away 15 s', 120_000);
    await expectAllSucceededOnce(stack);
    expect(stack.menage.output).to.match(/circuit open: frontend/);
  });
});

import { expect } from 'chai';
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { LABELS } from '../../src/contract/labels.js';
import { FrontendClient } from '../../src/menage/frontend-client.js';
import { OrphanSweeper } from '../../src/menage/orphans.js';
import { testEngine, unique } from '../support/services.js';
import { startStack, upload, type Stack } from '../support/stack.js';
import { silentLogger } from '../../src/log/logger.js';

const docker = new Docker();

describe('e2e: orphan sweeper', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: FrontendClient;
  const made: string[] = [];
  const volumes: string[] = [];
  const other = unique('mt-other-');

  /** A container made by hand with menage's labels (and a recognisable name). */
  async function make(labels: Record<string, string>, run = false): Promise<string> {
    const c = await docker.createContainer({
      name: `hostile-test-orphan-${randomBytes(4).toString('hex')}`, Image: 'menagerie/busybox:latest', Cmd: ['sleep', '300'],
      Labels: labels, HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Memory: 16 * 2 ** 20, PidsLimit: 8 },
    });
    made.push(c.id);
    if (run) await c.start();
    return c.id;
  }
  const ours = (job: string, extra: Record<string, string> = {}): Record<string, string> => ({
    [LABELS.managed]: 'true', [LABELS.deployment]: stack.env.config.rabbitmq.prefix, [LABELS.job]: job, [LABELS.attempt]: '1',
    [LABELS.deadline]: String(Date.now() + 600_000), ...extra,
  });
  const exists = async (id: string): Promise<boolean> => docker.getContainer(id).inspect().then(() => true, () => false);
  const sweeper = (now?: () => number): OrphanSweeper => new OrphanSweeper({
    docker, deployment: stack.env.config.rabbitmq.prefix, lookup: (id) => client.status(id), log: silentLogger(), ...(now ? { now } : {}),
  });

  before(async () => {
    stack = await startStack([testEngine('copy')], { menage: false });
    client = new FrontendClient(stack.internalUrl, stack.env.config.internalToken);
  });
  after(async () => {
    for (const id of made) await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
    for (const name of volumes) await docker.getVolume(name).remove().catch(() => undefined);
    await stack?.close();
  });

  it('removes exactly its own deployment\'s containers whose job is finished, unknown, superseded or overdue', async () => {
    const waiting = (await upload(stack.url, 'copy', 'a')).json.jobid as string;
    const running = (await upload(stack.url, 'copy', 'b')).json.jobid as string;
    const finished = (await upload(stack.url, 'copy', 'c')).json.jobid as string;
    const started = await client.start(running, 'test-node');
    const done = await client.start(finished, 'test-node');
    if (typeof started === 'string' || typeof done === 'string') throw new Error('could not start the jobs');
    expect(await client.fail(finished, done.lease, 'exit code 1', '', {})).to.equal('recorded');

    const keep = {
      waiting: await make(ours(waiting), true),
      running: await make(ours(running), true),
      otherDeployment: await make({ ...ours('999999', { [LABELS.deadline]: '1' }), [LABELS.deployment]: other }, true),
      unmanaged: await make({ [LABELS.deployment]: stack.env.config.rabbitmq.prefix, [LABELS.job]: '999999' }),
    };
    const gone = {
      unknown: await make(ours('999999')),
      finished: await make(ours(finished), true),
      superseded: await make(ours(running, { [LABELS.attempt]: '0' })),
      overdueRunning: await make(ours(running, { [LABELS.deadline]: String(Date.now() - 1000) }), true),
      overdueStopped: await make(ours(waiting, { [LABELS.deadline]: String(Date.now() - 1000) })),
      notAJobId: await make(ours('../../etc')),
    };

    const report = await sweeper().sweep();
    for (const [what, id] of Object.entries(keep)) expect(await exists(id), `${what} must be kept`).to.equal(true);
    for (const [what, id] of Object.entries(gone)) expect(await exists(id), `${what} must be removed`).to.equal(false);
    expect(report.killed.sort()).to.deep.equal([gone.finished, gone.overdueRunning].sort());
    expect(report.removed.sort()).to.deep.equal([gone.unknown, gone.superseded, gone.overdueStopped, gone.notAJobId].sort());

    const again = await sweeper().sweep();
    expect(again).to.deep.equal({ removed: [], killed: [], volumes: [] });
  });

  it('warm-pool containers: waiting ones kept (this run\'s, another node\'s), an earlier run\'s removed; running ones judged by the job on record', async () => {
    const pool = (node: string, deadline = Date.now() + 600_000): Record<string, string> => ({
      [LABELS.managed]: 'true', [LABELS.deployment]: stack.env.config.rabbitmq.prefix, [LABELS.role]: 'pool', [LABELS.node]: node, [LABELS.deadline]: String(deadline),
    });
    const recorded = (await upload(stack.url, 'copy', 'pooled')).json.jobid as string;
    const finished = (await upload(stack.url, 'copy', 'pooled and done')).json.jobid as string;
    const started = await client.start(recorded, 'node-a');
    const done = await client.start(finished, 'node-a');
    if (typeof started === 'string' || typeof done === 'string') throw new Error('could not start the jobs');
    const earlier = await make(pool('node-a'));
    await new Promise((r) => setTimeout(r, 3000)); // Docker's creation times are whole seconds
    const since = Date.now();
    const keep = { waiting: await make(pool('node-a')), otherNode: await make(pool('node-b')), running: await make(pool('node-a'), true) };
    const finishedRun = await make(pool('node-a'), true);
    const gone = { earlier, unrecorded: await make(pool('node-b'), true), overdue: await make(pool('node-b', Date.now() - 1000)), finished: finishedRun };
    expect(await client.bindContainer(recorded, started.lease, keep.running)).to.equal('recorded');
    expect(await client.bindContainer(finished, done.lease, finishedRun)).to.equal('recorded');
    expect(await client.fail(finished, done.lease, 'exit code 1', '', {})).to.equal('recorded');
    const report = await new OrphanSweeper({
      docker, deployment: stack.env.config.rabbitmq.prefix, lookup: (id) => client.status(id), containerLookup: (id) => client.containerJob(id),
      self: { node: 'node-a', since }, log: silentLogger(),
    }).sweep();
    for (const [what, id] of Object.entries(keep)) expect(await exists(id), `${what} must be kept`).to.equal(true);
    for (const [what, id] of Object.entries(gone)) expect(await exists(id), `${what} must be removed`).to.equal(false);
    expect(report.killed.sort()).to.deep.equal([gone.unrecorded, gone.finished].sort());
    expect(report.removed.sort()).to.deep.equal([gone.earlier, gone.overdue].sort());
  });

  it('removes dangling volumes of its deployment once they are old enough, never others', async () => {
    const names = [`hostile-test-orphan-${randomBytes(4).toString('hex')}`, `hostile-test-orphan-${randomBytes(4).toString('hex')}`];
    await docker.createVolume({ Name: names[0], Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: stack.env.config.rabbitmq.prefix, [LABELS.job]: '999999' } });
    await docker.createVolume({ Name: names[1], Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: other, [LABELS.job]: '999999' } });
    volumes.push(...names);
    const young = await sweeper().sweep();
    expect(young.volumes).to.deep.equal([]);
    const later = await sweeper(() => Date.now() + 120_000).sweep();
    expect(later.volumes).to.deep.equal([names[0]]);
    const left = (await docker.listVolumes()).Volumes?.map((v) => v.Name) ?? [];
    expect(left).to.not.include(names[0]);
    expect(left).to.include(names[1]);
  });

  it('start() sweeps at once, close() is idempotent', async () => {
    const leftover = await make(ours('999999'));
    const s = sweeper();
    await s.start();
    await s.start();
    expect(await exists(leftover)).to.equal(false);
    await s.close();
    await s.close();
  });
});

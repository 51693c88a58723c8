import { expect } from 'chai';
import Docker from 'dockerode';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RemovalQueue } from '../../src/menage/container-removal.js';
import { DockerSwitch } from '../support/docker-switch.js';
import { unique } from '../support/services.js';

/**
 * A removal queued while Docker is away (a daemon restart, a stop of a minute) must still
 * happen once it answers: a warm pool's never-started container would otherwise wait for
 * the orphan sweeper's deadline, counted as waiting all that time.
 */
describe('faults: container removals outlast a Docker outage', function () {
  this.timeout(60_000);
  const direct = new Docker();
  let sw: DockerSwitch;
  const made: string[] = [];

  /** A never-started container, as a warm pool leaves them. */
  const created = async (): Promise<string> => {
    const c = await direct.createContainer({ Image: 'menagerie/busybox:latest', Cmd: ['true'], Labels: { 'org.menagerie.test': 'removals' }, HostConfig: { NetworkMode: 'none' } });
    made.push(c.id);
    return c.id;
  };
  const exists = (id: string): Promise<boolean> => direct.getContainer(id).inspect().then(() => true, () => false);
  /** A never-started container, a queue that reaches it through the switch, and the removals it gave up; Docker then goes away. */
  const awayWithOne = async (): Promise<{ id: string; queue: RemovalQueue; removal: Promise<void>; given: string[] }> => {
    const id = await created();
    const given: string[] = [];
    const queue = new RemovalQueue({ onGiveUp: (c) => given.push(c.id) });
    await sw.off();
    const removal = queue.add(new Docker({ socketPath: sw.socket }).getContainer(id), undefined);
    return { id, queue, removal, given };
  };

  beforeEach(async () => {
    sw = new DockerSwitch(join('/run', unique('mt-rmsw-'), 'docker.sock'));
    await sw.on();
  });
  afterEach(async () => {
    await sw.close();
    for (const id of made.splice(0)) await direct.getContainer(id).remove({ force: true }).catch(() => undefined);
  });

  it('a removal asked for while Docker is away for 10 s happens once it answers', async () => {
    const { id, queue, removal, given } = await awayWithOne();
    await sleep(10_000);
    expect(await exists(id), 'still there while Docker is away').to.equal(true);
    await sw.on();
    await Promise.race([removal, sleep(15_000)]);
    expect(await exists(id), 'removed once Docker answers').to.equal(false);
    expect(given, 'removals given up').to.deep.equal([]);
    await queue.close();
  });

  it('a shutdown cuts the retries short: one last try, then the removal is given up (the sweeper\'s)', async () => {
    const { id, queue, given } = await awayWithOne();
    await sleep(1000);
    const started = Date.now();
    await queue.close();
    expect(Date.now() - started, 'close waited for the outage').to.be.below(5000);
    expect(given).to.deep.equal([id]);
    expect(await exists(id)).to.equal(true);
  });
});

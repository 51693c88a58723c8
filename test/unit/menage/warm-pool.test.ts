import { expect } from 'chai';
import type { Container, ContainerCreateOptions } from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABELS } from '../../../src/contract/labels.js';
import type { Engine } from '../../../src/engines/engines.js';
import { silentLogger } from '../../../src/log/logger.js';
import { WarmPool } from '../../../src/menage/warm-pool.js';

/** The pool against a stand-in for Docker: what it creates and removes, by container id. */
function harness(opts: { failCreate?: boolean; maxIdleMs?: number } = {}) {
  const created: { id: string; spec: ContainerCreateOptions }[] = [];
  const removed: string[] = [];
  /** `lost`: the next create is made but its answer lost (the daemon went away mid-call). `down`: find fails. */
  const docker = { lost: false, down: false, finds: [] as string[] };
  const pool = new WarmPool({
    deployment: 'dep', node: 'n1', graceMs: 5000, log: silentLogger(), ...(opts.maxIdleMs ? { maxIdleMs: opts.maxIdleMs } : {}),
    create: async (spec) => {
      await sleep(1);
      if (opts.failCreate) throw new Error('daemon says no');
      const id = `c${created.length + 1}`;
      created.push({ id, spec });
      if (docker.lost) {
        docker.lost = false;
        throw new Error('socket hang up');
      }
      return { id } as Container;
    },
    describe: async (c) => ({ image: 'img', container: c.id }),
    remove: (c) => void removed.push(c.id),
    find: async (label) => {
      docker.finds.push(label);
      if (docker.down) throw new Error('the Docker daemon could not be reached');
      return created.filter((c) => label === `${LABELS.poolToken}=${c.spec.Labels?.[LABELS.poolToken]}`).map((c) => ({ id: c.id }) as Container);
    },
  });
  return { pool, created, removed, docker };
}

const engine = (over: Partial<Engine> = {}): Engine => ({
  name: 'md5', workers: 1, image: 'img', cmd: ['/engine/run'], mountpoint: '/data', sizelimit: 1000, inputfilename: 'sample', user: '65534:65534',
  timeoutMs: 10_000, warm: 2, containment: { network: 'none', readonly: true, memoryBytes: 1 << 26, nanoCpus: 1e9, pids: 64, tmpfs: {}, resultLimit: 1000, logLimit: 1000 },
  ...over,
});

describe('menage/warm-pool: containers created ahead, each used once', () => {
  it('fills to `warm` with hardened containers labelled role=pool, without a job label, with a bounded deadline', async () => {
    const { pool, created } = harness({ maxIdleMs: 60_000 });
    const before = Date.now();
    pool.prepare(engine());
    await sleep(20);
    expect(created).to.have.length(2);
    expect(pool.readyCount('md5')).to.equal(2);
    const labels = created[0]!.spec.Labels!;
    expect(labels).to.include({ [LABELS.role]: 'pool', [LABELS.node]: 'n1', [LABELS.deployment]: 'dep', [LABELS.engine]: 'md5', [LABELS.managed]: 'true' });
    expect(labels).to.not.have.property(LABELS.job);
    expect(labels).to.not.have.property(LABELS.attempt);
    const deadline = Number(labels[LABELS.deadline]);
    expect(deadline).to.be.within(before + 60_000 + 10_000 + 5000, Date.now() + 60_000 + 10_000 + 5000);
    expect(created[0]!.spec.HostConfig).to.include({ ReadonlyRootfs: true, Privileged: false, NetworkMode: 'none' });
    pool.close();
  });

  it('take gives each container once and makes another behind it; an empty pool gives none', async () => {
    const { pool, created } = harness();
    const e = engine();
    pool.prepare(e);
    expect(pool.take(e), 'nothing made yet').to.equal(undefined);
    await sleep(20);
    const a = pool.take(e);
    const b = pool.take(e);
    expect([a?.container.id, b?.container.id]).to.deep.equal(['c1', 'c2']);
    expect(await a!.containment).to.deep.include({ container: 'c1' });
    await sleep(20);
    expect(created.map((c) => c.id), 'two at the prepare, one behind each take').to.deep.equal(['c1', 'c2', 'c3', 'c4']);
    expect(pool.take(e)?.container.id).to.equal('c3');
    pool.close();
  });

  it('a changed engine (reload) never gets a container made with the old settings; those are removed at once', async () => {
    const { pool, removed } = harness();
    const before = engine();
    pool.prepare(before);
    await sleep(20);
    const changed = engine({ timeoutMs: 20_000, containment: { ...engine().containment, pids: 32 } });
    pool.prepare(changed);
    expect(removed, 'the old ones do not fit').to.deep.equal(['c1', 'c2']);
    expect(pool.take(changed), 'the new ones are not made yet').to.equal(undefined);
    await sleep(20);
    expect(pool.take(before), 'a job of the old version (draining) runs cold').to.equal(undefined);
    expect(pool.take(changed)?.container.id).to.equal('c3');
    pool.close();
  });

  it('a job of a version the reload replaced takes nothing and never brings its pool back', async () => {
    const { pool, created, removed } = harness();
    const before = engine();
    pool.prepare(before);
    await sleep(20);
    // The reload sets warm 0: the runner retires the pool; the old version's last jobs still run.
    pool.retire('md5');
    expect(removed).to.deep.equal(['c1', 'c2']);
    expect(pool.take(before)).to.equal(undefined);
    await sleep(20);
    expect([created.length, pool.readyCount('md5')], 'nothing made after the retire').to.deep.equal([2, 0]);
    // Another version with warm set: only it fills, and the older one still takes nothing.
    const after = engine({ warm: 1 });
    pool.prepare(after);
    await sleep(20);
    expect(pool.take(before)).to.equal(undefined);
    expect(pool.take(after)?.container.id).to.equal('c3');
    pool.close();
  });

  it('retire and close remove the idle ones; closed, it makes no more', async () => {
    const { pool, removed, created } = harness();
    pool.prepare(engine());
    pool.prepare(engine({ name: 'other', warm: 1 }));
    await sleep(20);
    pool.retire('other');
    expect(removed).to.deep.equal(['c3']);
    pool.close();
    expect(removed.sort()).to.deep.equal(['c1', 'c2', 'c3']);
    pool.prepare(engine());
    expect(pool.take(engine())).to.equal(undefined);
    await sleep(20);
    expect(created).to.have.length(3);
  });

  it('a container that waited longer than maxIdle is replaced, never handed out', async () => {
    const { pool, removed } = harness({ maxIdleMs: 1000 });
    const e = engine({ warm: 1 });
    pool.prepare(e);
    await sleep(1100);
    expect(pool.take(e)?.container.id, 'expired').to.not.equal('c1');
    expect(removed).to.include('c1');
    pool.close();
  });

  it('a failed create is logged and leaves the pool empty (jobs take the cold path); the next take tries again', async () => {
    const { pool, created } = harness({ failCreate: true });
    const e = engine();
    pool.prepare(e);
    await sleep(20);
    expect(pool.take(e)).to.equal(undefined);
    expect(created).to.have.length(0);
    pool.close();
  });

  it('a create whose answer was lost (Docker made the container) is found by its token and removed once Docker answers', async () => {
    const { pool, created, removed, docker } = harness({ maxIdleMs: 60_000 });
    const e = engine({ warm: 1 });
    docker.lost = true;
    docker.down = true;
    pool.prepare(e);
    await sleep(20);
    expect([created.length, pool.readyCount('md5')], 'made, but the pool never heard').to.deep.equal([1, 0]);
    const token = created[0]!.spec.Labels![LABELS.poolToken]!;
    expect(token).to.match(/^[0-9a-f]{24}$/);
    // The next create succeeds while the daemon's list still fails: the token is kept.
    pool.prepare(e);
    await sleep(20);
    expect(docker.finds).to.deep.equal([`${LABELS.poolToken}=${token}`]);
    expect(removed).to.deep.equal([]);
    // Docker answers: the lost container goes, the pool's own stays ready.
    docker.down = false;
    pool.take(e);
    await sleep(20);
    expect(removed).to.deep.equal(['c1']);
    expect(new Set(created.map((c) => c.spec.Labels![LABELS.poolToken])).size, 'a token per create').to.equal(created.length);
    const finds = docker.finds.length;
    pool.take(e);
    await sleep(20);
    expect(docker.finds.length, 'nothing left to look for').to.equal(finds);
    pool.close();
  });
});

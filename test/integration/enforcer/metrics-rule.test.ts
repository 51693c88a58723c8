import { expect } from 'chai';
import Docker from 'dockerode';
import { startEnforcer } from '../../../src/enforcer.js';
import { mine, testConfig, useEnforcerTest, waitFor } from './helpers.js';

describe('enforcer metrics rules against the real Docker engine', function () {
  this.timeout(60_000);
  const docker = new Docker();
  const t = useEnforcerTest(docker);

  it('fires "memory usage > 50% for 2 samples" on a memory hog only, from one-shot stats', async () => {
    const MiB = 2 ** 20;
    const limits = { NetworkMode: 'none', Memory: 64 * MiB, MemorySwap: 64 * MiB, Tmpfs: { '/fill': 'size=60m' } };
    // tmpfs pages are charged to the container's memory cgroup and are not reclaimable cache.
    const hog = await t.containers.start('hog', { kill: true, host: limits, cmd: ['sh', '-c', 'dd if=/dev/zero of=/fill/x bs=1M count=40 && sleep 120'] });
    const idle = await t.containers.start('idle', { kill: true, host: limits });
    const rules = {
      rules: [
        {
          name: 'test-memory-hog',
          description: 'memory usage above 50% of the limit for 2 samples',
          violation: mine(t.run, { field: 'metrics.memoryPercent', op: 'gt', value: 50 }),
          samples: 2,
          action: { type: 'stop', timeout: 1 },
        },
      ],
    };
    t.enforcer = await startEnforcer(testConfig(t.run, rules, { periodic: { intervalSeconds: 1, immediate: true }, stats: { concurrency: 2, timeoutSeconds: 10 } }), { docker, log: () => undefined });
    const d = await waitFor('the hog to be stopped', () => t.enforcer?.detections.history().find((x) => x.name === `enf-test-${t.run}-hog`), 30_000);
    expect(d.outcome).to.equal('stopped');
    expect(await t.containers.running(hog)).to.equal(false);
    expect(d?.violations.map((v) => v.rule)).to.deep.equal(['test-memory-hog']);
    expect(await t.containers.running(idle)).to.equal(true);
    expect(t.enforcer.detections.history().some((x) => x.name === `enf-test-${t.run}-idle`)).to.equal(false);
    expect(await t.enforcer.metrics.render()).to.match(/^menagerie_enforcer_actions_total\{action="stop",result="stopped"\} 1$/m);
  });
});

import { expect } from 'chai';
import Docker from 'dockerode';
import { startEnforcer } from '../../../src/enforcer.js';
import { mine, testConfig, useEnforcerTest, waitFor } from './helpers.js';

describe('enforcer event stream against the real Docker engine', function () {
  this.timeout(60_000);
  const docker = new Docker();
  const t = useEnforcerTest(docker);

  const rules = (r: string) => ({
    rules: [{ name: 'test-memory-limit', violation: mine(r, { field: 'container.memory', op: 'eq', value: 0 }), action: { type: 'kill', signal: 'SIGKILL' } }],
  });

  it('kills a rogue container on its start event, with no periodic scan', async () => {
    t.enforcer = await startEnforcer(testConfig(t.run, rules(t.run), { events: true }), { docker, log: () => undefined });
    const watcher = t.enforcer.watcher!;
    await waitFor('the event stream', () => watcher.connections === 1);
    const t0 = Date.now();
    const rogue = await t.containers.start('rogue', { kill: true });
    const compliant = await t.containers.start('good', { kill: true, host: { NetworkMode: 'none', Memory: 32 * 2 ** 20 } });
    const d = await waitFor('the rogue container to be killed', () => t.enforcer?.detections.history().find((x) => x.name === `enf-test-${t.run}-rogue`), 10_000);
    expect(Date.now() - t0).to.be.lessThan(10_000);
    expect(await t.containers.running(rogue)).to.equal(false);
    expect(await t.containers.running(compliant)).to.equal(true);
    expect(d?.source).to.equal('event');
    expect(d?.outcome).to.equal('killed');
  });

  it('reconnects a broken stream and rechecks every container, catching one started while it was down', async () => {
    t.enforcer = await startEnforcer(testConfig(t.run, rules(t.run), { events: true }), { docker, log: () => undefined, eventBackoffMs: 3000 });
    const watcher = t.enforcer.watcher!;
    await waitFor('the event stream', () => watcher.connections === 1);
    watcher.breakStream();
    const brokenAt = Date.now();
    // Started while no stream is connected: its start event is never delivered.
    const rogue = await t.containers.start('missed', { kill: true });
    expect(watcher.connections, 'still disconnected when the container started').to.equal(1);
    await waitFor('the stream to reconnect', () => watcher.connections === 2, 10_000);
    const d = await waitFor('the missed rogue container to be killed', () => t.enforcer?.detections.history().find((x) => x.name === `enf-test-${t.run}-missed`), 10_000);
    expect(d.outcome).to.equal('killed');
    expect(await t.containers.running(rogue)).to.equal(false);
    expect(Date.parse(d?.time ?? '') - brokenAt).to.be.at.least(2500);
    expect(await t.enforcer.metrics.render()).to.match(/^menagerie_enforcer_event_stream_reconnects_total 1$/m);
  });
});

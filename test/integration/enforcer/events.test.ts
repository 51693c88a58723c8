import { expect } from 'chai';
import Docker from 'dockerode';
import { startEnforcer, type RunningEnforcer } from '../../../src/enforcer.js';
import { mine, newRun, requireDocker, TestContainers, testConfig, waitFor } from './helpers.js';

describe('enforcer event stream against the real Docker engine', function () {
  this.timeout(60_000);
  const docker = new Docker();
  let run: string;
  let containers: TestContainers;
  let enforcer: RunningEnforcer | undefined;

  before(() => requireDocker(docker));
  beforeEach(() => {
    run = newRun();
    containers = new TestContainers(docker, run);
  });
  afterEach(async () => {
    await enforcer?.close();
    enforcer = undefined;
    await containers.removeAll();
  });

  const rules = (r: string) => ({
    rules: [{ name: 'test-memory-limit', violation: mine(r, { field: 'container.memory', op: 'eq', value: 0 }), action: { type: 'kill', signal: 'SIGKILL' } }],
  });

  it('kills a rogue container on its start event, with no periodic scan', async () => {
    enforcer = await startEnforcer(testConfig(run, rules(run), { events: true }), { docker, log: () => undefined });
    const watcher = enforcer.watcher!;
    await waitFor('the event stream', () => watcher.connections === 1);
    const t0 = Date.now();
    const rogue = await containers.start('rogue', { kill: true });
    const compliant = await containers.start('good', { kill: true, host: { NetworkMode: 'none', Memory: 32 * 2 ** 20 } });
    const d = await waitFor('the rogue container to be killed', () => enforcer?.detections.history().find((x) => x.name === `enf-test-${run}-rogue`), 10_000);
    expect(Date.now() - t0).to.be.lessThan(10_000);
    expect(await containers.running(rogue)).to.equal(false);
    expect(await containers.running(compliant)).to.equal(true);
    expect(d?.source).to.equal('event');
    expect(d?.outcome).to.equal('killed');
  });

  it('reconnects a broken stream and rechecks every container, catching one started while it was down', async () => {
    enforcer = await startEnforcer(testConfig(run, rules(run), { events: true }), { docker, log: () => undefined, eventBackoffMs: 3000 });
    const watcher = enforcer.watcher!;
    await waitFor('the event stream', () => watcher.connections === 1);
    watcher.breakStream();
    const brokenAt = Date.now();
    // Started while no stream is connected: its start event is never delivered.
    const rogue = await containers.start('missed', { kill: true });
    expect(watcher.connections, 'still disconnected when the container started').to.equal(1);
    await waitFor('the stream to reconnect', () => watcher.connections === 2, 10_000);
    const d = await waitFor('the missed rogue container to be killed', () => enforcer?.detections.history().find((x) => x.name === `enf-test-${run}-missed`), 10_000);
    expect(d.outcome).to.equal('killed');
    expect(await containers.running(rogue)).to.equal(false);
    expect(Date.parse(d?.time ?? '') - brokenAt).to.be.at.least(2500);
    expect(enforcer.metrics.render()).to.match(/^menagerie_enforcer_event_stream_reconnects_total 1$/m);
  });
});

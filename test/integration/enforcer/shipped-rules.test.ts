import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { startEnforcer } from '../../../src/enforcer.js';
import { parseEnforcerConfig } from '../../../src/enforcer/config.js';
import type { ConfigProblem } from '../../../src/errors.js';
import { loadEngines } from '../../../src/engines/engines.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';
import { KILL_LABEL, TEST_LABEL, useEnforcerTest, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

describe('enforcer with the shipped config and rules on real containers', function () {
  this.timeout(60_000);
  const docker = new Docker();
  const t = useEnforcerTest(docker);

  /** The appliance config, except KILL applies to this run's containers instead of org.menagerie.managed. */
  function applianceConfig() {
    const shipped = JSON.parse(readFileSync(join(ROOT, 'enforcer/config.json'), 'utf8')) as Record<string, unknown>;
    const { frontend: _f, api: _a, ...rest } = shipped;
    return parseEnforcerConfig(
      { ...rest, periodic: { intervalSeconds: 1, immediate: true }, events: true, mode: { default: 'warn', overrides: [{ label: KILL_LABEL, value: t.run, mode: 'kill' }] } },
      join(ROOT, 'enforcer/config.json'),
    );
  }

  it('leaves a real engine container (buildContainerSpec) running, kills a rogue one, only reports an unscoped one', async () => {
    const problems: ConfigProblem[] = [];
    const [engine] = loadEngines(join(ROOT, 'engines/engines.json'), {}, problems);
    expect(problems).to.deep.equal([]);
    const spec = buildContainerSpec(engine!, { deployment: `enf-test-${t.run}`, jobId: `job-${t.run}`, attempt: 1, node: 'test', deadline: Date.now() + 60_000 });
    // Same settings as menage's, but labelled as this test's (never org.menagerie.managed).
    const engineLike = await t.containers.startSpec({ ...spec, name: `enf-test-${t.run}-engine`, Cmd: ['sleep', '120'], Labels: { [TEST_LABEL]: t.run, [KILL_LABEL]: t.run } });
    const rogue = await t.containers.start('rogue', { kill: true });
    const handStarted = await t.containers.start('hand');
    t.enforcer = await startEnforcer(applianceConfig(), { docker, log: () => undefined });
    const e = t.enforcer;
    const killed = await waitFor('the rogue container to be killed', () => e.detections.history().find((d) => d.name === `enf-test-${t.run}-rogue` && d.outcome === 'killed'));
    expect(killed.violations.map((v) => v.rule)).to.include('memory-limit');
    const reported = await waitFor('the hand-started container to be reported', () => e.detections.history().find((d) => d.name === `enf-test-${t.run}-hand`));
    expect(reported.outcome).to.equal('reported');
    expect(reported.mode).to.equal('warn');
    const scans = async () => (await e.metrics.render()).match(/^menagerie_enforcer_scans_total\{source="periodic",result="ok"\} (\d+)$/m)?.[1];
    const after = Number((await scans()) ?? 0);
    await waitFor('two more scans', async () => Number((await scans()) ?? 0) >= after + 2);
    expect(await t.containers.running(engineLike), 'a container built like menage builds them is compliant').to.equal(true);
    expect(e.detections.history().filter((d) => d.name === `enf-test-${t.run}-engine`)).to.deep.equal([]);
    expect(await t.containers.running(handStarted)).to.equal(true);
    expect(await t.containers.running(rogue)).to.equal(false);
  });
});

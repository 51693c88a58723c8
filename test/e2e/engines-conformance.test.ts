import { expect } from 'chai';
import Docker from 'dockerode';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadEngines, type Engine } from '../../src/engines/engines.js';
import type { ConfigProblem } from '../../src/errors.js';
import { formatReport, runKit } from '../../src/menage/conformance/kit.js';
import { DockerRunner } from '../../src/menage/runner.js';
import { LABELS } from '../../src/contract/labels.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const enginesFile = join(root, 'engines', 'engines.json');
const docker = new Docker();

function shipped(): Engine[] {
  const problems: ConfigProblem[] = [];
  const engines = loadEngines(enginesFile, {}, problems);
  expect(problems).to.deep.equal([]);
  return engines;
}

/** The shipped engines pass their kit through the real runner and Docker (test/run builds the images). */
describe('e2e: every shipped engine passes its conformance kit', function () {
  this.timeout(20 * 60_000);
  const runner = new DockerRunner(docker, `menagerie-kit-test-${process.pid}`);

  afterEach(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=menagerie-kit-test-${process.pid}`] } });
    expect(left.map((c) => c.Names[0])).to.deep.equal([]);
  });

  for (const engine of shipped()) {
    it(`${engine.name} (${engine.image}): golden samples match and the hostile set is handled`, async () => {
      const report = await runKit({ engine, engineDir: join(root, 'engines', engine.name), dispatcher: runner, docker, deployment: `menagerie-kit-test-${process.pid}` });
      console.log(`\n${formatReport(report)}`);
      expect(report.imageId).to.match(/^sha256:[0-9a-f]{64}$/);
      expect(report.grades.filter((g) => g.kind === 'golden')).to.not.be.empty;
      expect(report.grades.map((g) => g.case)).to.include.members(
        ['zero-byte', 'size-limit', 'non-utf8-name', 'zip-bomb', 'nested-archive', 'truncated', 'loop']);
      expect(report.grades.filter((g) => !g.pass)).to.deep.equal([]);
      expect(report.passed).to.equal(true);
    });
  }
});

describe('e2e: the conformance kit fails engines that misbehave', function () {
  this.timeout(5 * 60_000);
  const runner = new DockerRunner(docker, `menagerie-kit-test-${process.pid}`);
  const md5 = (): Engine => shipped().find((e) => e.name === 'md5') as Engine;

  it('a wrong result fails the golden case (an engine that echoes its input posing as md5)', async () => {
    const engine = { ...md5(), image: 'menagerie-test/behave:latest', cmd: ['/engine/copy'], sizelimit: 1024 };
    const report = await runKit({ engine, engineDir: join(root, 'engines', 'md5'), dispatcher: runner, docker, deployment: `menagerie-kit-test-${process.pid}` });
    expect(report.passed).to.equal(false);
    const golden = report.grades.find((g) => g.case === 'hello');
    expect(golden).to.include({ pass: false, outcome: 'wrong result' });
  });

  it('an engine stopped by its timeout does not stay within its limits', async () => {
    const engine = { ...md5(), image: 'menagerie-test/behave:latest', cmd: ['/engine/sleep', '3600'], sizelimit: 1024, timeoutMs: 1500 };
    const report = await runKit({ engine, engineDir: join(root, 'engines', 'md5'), dispatcher: runner, docker, deployment: `menagerie-kit-test-${process.pid}` });
    expect(report.passed).to.equal(false);
    const zero = report.grades.find((g) => g.case === 'zero-byte');
    expect(zero).to.include({ pass: false, outcome: 'stopped by a limit', limits: 'timeout' });
  });

  it('a failure without a word is not a clean failure', async () => {
    const engine = { ...md5(), image: 'menagerie-test/behave:latest', cmd: ['/engine/noresult'], sizelimit: 1024 };
    const report = await runKit({ engine, engineDir: join(root, 'engines', 'md5'), dispatcher: runner, docker, deployment: `menagerie-kit-test-${process.pid}` });
    expect(report.grades.find((g) => g.case === 'truncated')?.pass).to.equal(false);
  });
});

describe('e2e: every engine folder is complete', () => {
  for (const engine of shipped()) {
    it(`${engine.name}: VERSION pins the tag, the AppArmor profile exists, the run budget is below the timeout`, () => {
      const dir = join(root, 'engines', engine.name);
      const version = readFileSync(join(dir, 'VERSION'), 'utf8').trim();
      expect(engine.image).to.match(new RegExp(`/${engine.name}:${version.replace(/\./g, '\\.')}(@sha256:[0-9a-f]{64})?$`));
      expect(existsSync(join(root, 'apparmor', engine.containment.apparmor ?? 'none'))).to.equal(true);
      expect(existsSync(join(dir, 'golden'))).to.equal(true);
      const budget = Number(engine.cmd[1] ?? 0);
      if (engine.cmd[0] === '/engine/run' && engine.cmd.length > 1) expect(budget * 1000).to.be.below(engine.timeoutMs);
    });
  }
});

import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/config.js';
import type { Containment, Engine } from '../../../src/engines/engines.js';
import { BOUNDS } from '../../../src/engines/limits.js';
import { ConfigError } from '../../../src/errors.js';
import { evaluateCreate, loadRules } from '../../../src/enforcer/index.js';
import { checkPolicy } from '../../../src/menage.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';

describe('menage: policy gate at start-up', () => {
  let dir: string;
  const engine = { name: 'md5', image: 'menagerie/md5:latest', cmd: '/engine/run', mountpoint: '/data',
    sizelimit: 100, inputfilename: 'sample', timeout: 10 };
  const configWith = async (engines: unknown[]): Promise<ReturnType<typeof loadConfig>> => {
    await writeFile(join(dir, 'engines.json'), JSON.stringify({ engines }));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } }));
    return loadConfig(join(dir, 'config.json'), {});
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-policy-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the shipped engines and the hardened defaults', async () => {
    expect(() => checkPolicy(loadConfigFromRepo())).to.not.throw();
    checkPolicy(await configWith([engine]));
  });

  // What loadConfig refuses must be refused by the shipped policy too (a second line behind
  // the engines.json checks, and what the enforcer applies to running containers).
  const breaches: Array<[string, (c: Containment, e: Engine) => Partial<Engine>, string]> = [
    ['apparmor=unconfined', (c) => ({ containment: { ...c, apparmor: 'unconfined' } }), 'apparmor-confined'],
    ['seccomp=unconfined', (c) => ({ containment: { ...c, seccomp: { file: '', json: 'unconfined' } } }), 'seccomp-confined'],
    ['user 0:0', () => ({ user: '0:0' }), 'not-root'],
    ['user root', () => ({ user: 'root' }), 'not-root'],
    ['user 0', () => ({ user: '0' }), 'not-root'],
    ['user 00', () => ({ user: '00' }), 'not-root'],
    ['user 65534:0', () => ({ user: '65534:0' }), 'not-root'],
    ['no user (the image default)', () => ({ user: '' }), 'not-root'],
    [`pids ${BOUNDS.pids + 1}`, (c) => ({ containment: { ...c, pids: BOUNDS.pids + 1 } }), 'pids-bound'],
    ['memory above 16g', (c) => ({ containment: { ...c, memoryBytes: BOUNDS.memoryBytes + 1 } }), 'memory-bound'],
    [`cpus ${BOUNDS.cpus + 1}`, (c) => ({ containment: { ...c, nanoCpus: (BOUNDS.cpus + 1) * 1e9 } }), 'cpus-bound'],
    ['no cpu limit', (c) => ({ containment: { ...c, nanoCpus: 0 } }), 'cpus-bound'],
  ];
  for (const [what, change, rule] of breaches) {
    it(`refuses an engine with ${what} by rule ${rule} (issue 15.7)`, async () => {
      const config = await configWith([engine]);
      const good = config.engines[0] as Engine;
      const bad = { ...good, ...change(good.containment, good) };
      expect(() => checkPolicy({ ...config, engines: [bad] })).to.throw(ConfigError, new RegExp(`breaks policy .*: ${rule}\\b`));
    });
  }

  it('refuses every spelling of a turned-off profile in a create body (what Docker would accept)', async () => {
    const config = await configWith([engine]);
    const rules = loadRules(config.menage.policyRules);
    const spec = buildContainerSpec(config.engines[0] as Engine, { deployment: 'd', jobId: '1', attempt: 1, node: 'n', deadline: 0 });
    const cases: Array<[string, string]> = [['apparmor=unconfined', 'apparmor-confined'], ['apparmor:unconfined', 'apparmor-confined'],
      ['apparmor=', 'apparmor-confined'], ['seccomp=unconfined', 'seccomp-confined'], ['seccomp:unconfined', 'seccomp-confined'], ['seccomp=', 'seccomp-confined']];
    for (const [opt, rule] of cases) {
      const body = structuredClone(spec) as unknown as { HostConfig: { SecurityOpt: string[] } };
      body.HostConfig.SecurityOpt.push(opt);
      expect(evaluateCreate(rules, body).map((v) => v.rule), opt).to.deep.equal([rule]);
    }
    expect(evaluateCreate(rules, spec)).to.deep.equal([]);
  });

  it('accepts an engine exactly at every bound', async () => {
    const config = await configWith([{ ...engine, pids: BOUNDS.pids, memory: '16g', cpus: BOUNDS.cpus, user: '1:1', apparmor: 'p' }]);
    checkPolicy(config);
  });

  it('refuses an engine whose settings break a rule, naming engine and rule', async () => {
    const config = await configWith([engine, { ...engine, name: 'loose', readonly: false }]);
    try {
      checkPolicy(config);
      expect.fail('should have refused');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).to.have.length(1);
      expect(problems[0]?.pointer).to.equal('/engines/1');
      expect(problems[0]?.message).to.match(/engine "loose" breaks policy .*engines\.json: readonly-rootfs/);
    }
  });
});

function loadConfigFromRepo(): ReturnType<typeof loadConfig> {
  return loadConfig(join(process.cwd(), 'test', 'unit', 'config', 'fixtures', 'config.json'), {});
}

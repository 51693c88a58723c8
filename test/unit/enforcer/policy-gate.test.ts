import { expect } from 'chai';
import { join } from 'node:path';
import type { ConfigProblem } from '../../../src/errors.js';
import { loadEngines } from '../../../src/engines/engines.js';
import { evaluate, evaluateCreate, loadRules, modelFromInspect, UNREADABLE_BODY_RULE } from '../../../src/enforcer/index.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';
import { ROOT } from './helpers.js';

describe('enforcer policy gate (default rules on engine specs)', () => {
  const rules = loadRules(join(ROOT, 'enforcer/rules/engines.json'));
  const problems: ConfigProblem[] = [];
  const engines = loadEngines(join(ROOT, 'engines/engines.json'), {}, problems);
  const run = { deployment: 'd1', jobId: 'job-1', attempt: 1, node: 'n1', deadline: Date.now() + 60_000 };

  it('loads the engines and the default rules', () => {
    expect(problems).to.deep.equal([]);
    expect(engines.length).to.be.greaterThan(0);
    expect(rules.rules.map((r) => r.name)).to.include.members(['memory-limit', 'pids-limit', 'network-none', 'not-privileged']);
  });

  it('accepts buildContainerSpec output for every shipped engine', () => {
    for (const engine of engines) expect(evaluateCreate(rules, buildContainerSpec(engine, run)), engine.name).to.deep.equal([]);
  });

  const variants: Array<[string, (hc: Record<string, unknown>, body: Record<string, unknown>) => void, string]> = [
    ['privileged', (hc) => { hc.Privileged = true; }, 'not-privileged'],
    ['no memory limit', (hc) => { delete hc.Memory; }, 'memory-limit'],
    ['memory 0', (hc) => { hc.Memory = 0; }, 'memory-limit'],
    ['host bind', (hc) => { hc.Binds = ['/etc:/host-etc:ro']; }, 'no-host-mounts'],
    ['bind via Mounts', (hc) => { hc.Mounts = [{ Type: 'bind', Source: '/', Target: '/host' }]; }, 'no-host-mounts'],
    ['network bridge', (hc, body) => { hc.NetworkMode = 'bridge'; delete body.NetworkDisabled; }, 'network-none'],
    ['default network', (hc, body) => { delete hc.NetworkMode; delete body.NetworkDisabled; }, 'network-none'],
    ['no pids limit', (hc) => { hc.PidsLimit = -1; }, 'pids-limit'],
    ['writable root', (hc) => { hc.ReadonlyRootfs = false; }, 'readonly-rootfs'],
    ['cap add', (hc) => { hc.CapAdd = ['NET_ADMIN']; }, 'cap-drop-all'],
    ['no no-new-privileges', (hc) => { hc.SecurityOpt = []; }, 'no-new-privileges'],
    ['pid host', (hc) => { hc.PidMode = 'host'; }, 'no-host-namespaces'],
    ['a writable named volume', (hc) => { (hc.Mounts as unknown[]).push({ Type: 'volume', Source: 'menagerie-yara-rules', Target: '/rules', ReadOnly: false }); }, 'named-volumes-read-only'],
    ['a writable volume named like a capped one of another deployment\'s shape', (hc) => { (hc.Mounts as unknown[]).push({ Type: 'volume', Source: 'shared-data', Target: '/x' }); }, 'named-volumes-read-only'],
  ];

  it('accepts the input volume (anonymous or size-capped) writable and named volumes read-only, at create and as inspect shows them', () => {
    const body = structuredClone(buildContainerSpec(engines[0]!, run, 'menagerie-17-2-0123456789ab')) as unknown as { HostConfig: { Mounts: unknown[] } };
    body.HostConfig.Mounts.push({ Type: 'volume', Source: 'menagerie-yara-rules', Target: '/rules', ReadOnly: true });
    expect(evaluateCreate(rules, body)).to.deep.equal([]);
    const at = (name: string): string => `/var/lib/docker/100000.100000/volumes/${name}/_data`;
    const inspect = (mounts: unknown[]): string[] => evaluate(rules, { source: 'periodic', container: modelFromInspect({
      Id: 'c1', Name: '/c1', Config: { Labels: {}, User: '65534:65534' }, State: { Running: true },
      HostConfig: { ...structuredClone(buildContainerSpec(engines[0]!, run)).HostConfig, Mounts: undefined }, Mounts: mounts,
    } as never) }).violations.map((v) => v.rule);
    const input = { Type: 'volume', Name: 'a'.repeat(64), Source: at('a'.repeat(64)), Destination: '/data', RW: true };
    expect(inspect([input, { Type: 'volume', Name: 'rules', Source: at('rules'), Destination: '/rules', RW: false }])).to.deep.equal([]);
    expect(inspect([{ ...input, Source: at('menagerie-17-2-0123456789ab') }])).to.deep.equal([]);
    expect(inspect([input, { Type: 'volume', Name: 'rules', Source: at('rules'), Destination: '/rules', RW: true }])).to.deep.equal(['named-volumes-read-only']);
  });
  for (const [name, mutate, rule] of variants) {
    it(`refuses a spec with ${name} naming rule ${rule}`, () => {
      const body = structuredClone(buildContainerSpec(engines[0]!, run)) as unknown as Record<string, unknown>;
      mutate(body.HostConfig as Record<string, unknown>, body);
      const violations = evaluateCreate(rules, body);
      expect(violations.map((v) => v.rule)).to.deep.equal([rule]);
      expect(violations[0]?.action.type).to.equal('kill');
      expect(violations[0]?.message).to.be.a('string').and.not.equal('');
    });
  }

  it('refuses a body it cannot read', () => {
    for (const body of [null, 'x', { HostConfig: { Privileged: 'yes' } }, { HostConfig: { Binds: '/etc:/x' } }]) {
      expect(evaluateCreate(rules, body).map((v) => v.rule)).to.deep.equal([UNREADABLE_BODY_RULE]);
    }
  });
});

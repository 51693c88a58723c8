import { expect } from 'chai';
import { join } from 'node:path';
import { judgeContainerCreate, labelsAreOurs } from '../../../src/docker-proxy/create-body.js';
import { judgeRequest } from '../../../src/docker-proxy/judge.js';
import { policyFrom } from '../../../src/docker-proxy/policy.js';
import { kitDeployment, LABELS } from '../../../src/contract/labels.js';
import { normaliseEngine, type Engine } from '../../../src/engines/engines.js';
import { loadRules } from '../../../src/enforcer/index.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';
import { ROOT } from '../enforcer/helpers.js';

const raw = {
  name: 'yara', workers: 1, image: 'menagerie/yara:1.0.0', runflags: '--net=none --read-only', cmd: ['/engine/run', '50'], mountpoint: '/data',
  sizelimit: 1024, inputfilename: 'sample', user: '65534:65534', timeout: 60, memory: '256m', pids: 64, volumes: { '/rules': 'menagerie-yara-rules' },
};
function engine(fields: Record<string, unknown> = {}): { engine?: Engine; problems: string[] } {
  const problems: string[] = [];
  const e = normaliseEngine({ ...raw, ...fields } as Parameters<typeof normaliseEngine>[0], (p, m) => problems.push(`${p}: ${m}`));
  return { ...(e ? { engine: e } : {}), problems };
}
const YARA = engine().engine as Engine;
const policy = policyFrom({ deployment: 'dep', engines: [YARA], holderImage: 'menagerie/busybox:latest', rules: loadRules(join(ROOT, 'enforcer/rules/engines.json')), maxJsonBytes: 1 << 20 });
const spec = (deployment = 'dep'): Record<string, any> =>
  JSON.parse(JSON.stringify(buildContainerSpec(YARA, { deployment, jobId: '1', attempt: 1, node: 'n', deadline: 1 }))) as Record<string, any>;

describe('engines.json volumes: read-only named volumes', () => {
  it('become read-only volume mounts after the input volume', () => {
    const mounts = spec().HostConfig.Mounts as { Type: string; Source: string; Target: string; ReadOnly: boolean }[];
    expect(mounts).to.have.length(2);
    expect(mounts[1]).to.deep.equal({ Type: 'volume', Source: 'menagerie-yara-rules', Target: '/rules', ReadOnly: true });
    expect(mounts[0]).to.include({ Target: '/data', ReadOnly: false });
  });
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['over the input volume', { volumes: { '/data': 'v' } }, /would overlap \/data/],
    ['above the input volume', { volumes: { '/': 'v' }, mountpoint: '/data' }, /overlap/],
    ['inside a tmpfs', { volumes: { '/tmp/rules': 'v' }, tmpfs: { '/tmp': '8m' } }, /overlap \/tmp/],
  ];
  for (const [what, fields, pattern] of bad) {
    it(`refuses a volume ${what}`, () => expect(engine(fields).problems.join('\n')).to.match(pattern));
  }
});

describe('docker-proxy: read-only engine volumes and the conformance kit', () => {
  it('lets a declared volume through as a data volume (checked against its label by the server), only read-only at its path', () => {
    expect(judgeContainerCreate(spec(), policy)).to.deep.equal({ problems: [], volumes: [], dataVolumes: ['menagerie-yara-rules'] });
    const writable = spec();
    writable.HostConfig.Mounts[1].ReadOnly = false;
    // Judged as a job's own capped volume instead, which must carry the deployment's labels: refused by the server.
    expect(judgeContainerCreate(writable, policy)).to.deep.include({ dataVolumes: [], volumes: ['menagerie-yara-rules'] });
    const elsewhere = spec();
    elsewhere.HostConfig.Mounts[1].Target = '/engine';
    expect(judgeContainerCreate(elsewhere, policy)).to.deep.include({ dataVolumes: [], volumes: ['menagerie-yara-rules'] });
    const other = spec();
    other.HostConfig.Mounts[1].Source = 'someone-elses';
    expect(judgeContainerCreate(other, policy)).to.deep.include({ dataVolumes: [], volumes: ['someone-elses'] });
  });

  it('counts the kit\'s deployment label (<deployment>-kit) as this deployment\'s, and nothing else', () => {
    expect(kitDeployment('dep')).to.equal('dep-kit');
    expect(judgeContainerCreate(spec(kitDeployment('dep')), policy).problems).to.deep.equal([]);
    expect(labelsAreOurs({ [LABELS.managed]: 'true', [LABELS.deployment]: 'dep-kit' }, 'dep')).to.equal(true);
    for (const other of ['dep-kit-kit', 'dep-ki', 'other-kit', 'depkit']) {
      expect(labelsAreOurs({ [LABELS.managed]: 'true', [LABELS.deployment]: other }, 'dep'), other).to.equal(false);
    }
    const kit = spec(kitDeployment('dep'));
    kit.Image = 'alpine';
    expect(judgeContainerCreate(kit, policy).problems.join(';')).to.match(/image "alpine"/);
  });

  it('lists: the kit\'s label narrows containers and volumes; the engine-data label narrows only volumes', () => {
    const f = (l: string): string => encodeURIComponent(JSON.stringify({ label: [l] }));
    expect(judgeRequest('GET', `/containers/json?all=1&filters=${f(`${LABELS.deployment}=dep-kit`)}`, false, policy).allow).to.equal(true);
    expect(judgeRequest('GET', `/volumes?filters=${f(`${LABELS.engineData}=dep`)}`, false, policy).allow).to.equal(true);
    expect(judgeRequest('GET', `/containers/json?filters=${f(`${LABELS.engineData}=dep`)}`, false, policy).allow).to.equal(false);
    expect(judgeRequest('GET', `/volumes?filters=${f(`${LABELS.engineData}=other`)}`, false, policy).allow).to.equal(false);
  });
});

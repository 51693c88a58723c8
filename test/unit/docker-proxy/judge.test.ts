import { expect } from 'chai';
import { join } from 'node:path';
import { judgeContainerCreate, judgeVolumeCreate } from '../../../src/docker-proxy/create-body.js';
import { dockerOptions } from '../../../src/docker-proxy/endpoint.js';
import { judgeRequest } from '../../../src/docker-proxy/judge.js';
import { policyFrom } from '../../../src/docker-proxy/policy.js';
import { parseStrictJson } from '../../../src/enforcer/docker-json.js';
import type { Engine } from '../../../src/engines/engines.js';
import { loadRules } from '../../../src/enforcer/index.js';
import { LABELS } from '../../../src/contract/labels.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';
import { ROOT } from '../enforcer/helpers.js';

const MiB = 1024 * 1024;
const ENGINE: Engine = {
  name: 'copy', workers: 1, image: 'menagerie-test/behave:latest', cmd: ['/engine/copy'], mountpoint: '/data', sizelimit: MiB,
  inputfilename: 'sample', user: '65534:65534', timeoutMs: 20_000,
  containment: {
    network: 'none', readonly: true, memoryBytes: 64 * MiB, nanoCpus: 5e8, pids: 64, tmpfs: { '/scratch': 'rw,noexec,nosuid,nodev,size=8388608' },
    apparmor: 'menagerie-engine-copy', seccomp: { file: 'x.json', json: '{"defaultAction":"SCMP_ACT_ERRNO"}' }, resultLimit: MiB, logLimit: 64 * 1024,
  },
};
const policy = policyFrom({
  deployment: 'dep', engines: [ENGINE], holderImage: 'menagerie/busybox:latest',
  rules: loadRules(join(ROOT, 'enforcer/rules/engines.json')), maxJsonBytes: MiB,
});
const ID = 'a'.repeat(64);
const label = encodeURIComponent(JSON.stringify({ label: [`${LABELS.deployment}=dep`] }));

describe('docker-proxy: request judging (pure)', () => {
  const table: [method: string, url: string, allowed: boolean | 400, upgrade?: boolean][] = [
    ['GET', '/_ping', true], ['HEAD', '/_ping', true], ['GET', '/v1.41/_ping', true], ['GET', '/info', true], ['GET', '/version', true],
    ['POST', '/containers/create', true], ['POST', `/containers/${ID}/start`, true], ['POST', `/containers/${ID}/wait`, true],
    ['GET', `/containers/${ID}/json`, true], ['GET', `/containers/${ID}/archive?path=/data/result`, true], ['PUT', `/containers/${ID}/archive?path=/data`, true],
    ['HEAD', `/containers/${ID}/archive?path=/data`, true], ['POST', `/containers/${ID}/attach?stream=true&stdout=true`, true],
    ['POST', `/containers/${ID}/attach?stream=true`, true, true], ['POST', `/containers/${ID}/kill?signal=SIGTERM`, true],
    ['DELETE', `/containers/${ID}?force=true&v=true`, true], ['GET', `/containers/json?all=true&filters=${label}`, true],
    ['POST', '/volumes/create', true], ['GET', `/volumes?filters=${label}`, true], ['DELETE', '/volumes/menagerie-1-1-abc', true],
    ['GET', '/images/menagerie/busybox:latest/json', true],
    // pulls of exactly an engine's (or the holder's) image reference
    ['POST', '/images/create?fromImage=menagerie/busybox&tag=latest', true], ['POST', '/v1.41/images/create?tag=latest&fromImage=menagerie/busybox', true], ['GET', `/images/sha256:${ID}/json`, true],
    ['GET', `/events?filters=${encodeURIComponent(JSON.stringify({ container: [ID], event: ['oom'] }))}`, true],
    // refused: endpoints and methods menage never uses
    ['POST', `/containers/${ID}/exec`, false], ['GET', `/containers/${ID}/logs`, false], ['POST', `/containers/${ID}/update`, false],
    ['POST', `/containers/${ID}/start`, false, true], ['GET', '/containers/create', false], ['DELETE', '/containers/create', false],
    ['POST', '/images/create', false], ['POST', '/images/create?fromImage=menagerie/busybox', false],
    ['POST', '/images/create?fromImage=menagerie/busybox&tag=1.36', false], ['POST', '/images/create?fromImage=menagerie/busybox&tag=latest&fromSrc=-', false],
    ['POST', '/images/create?fromImage=menagerie/busybox&tag=latest&repo=x', false], ['POST', '/images/create?fromImage=MENAGERIE/busybox&tag=latest', false],
    ['POST', '/images/create?fromImage=menagerie/busybox:latest&tag=latest', false], ['GET', '/images/create?fromImage=menagerie/busybox&tag=latest', false],
    ['GET', '/images/json', false], ['POST', '/build', false], ['GET', '/CONTAINERS/json', false],
    ['POST', `/containers/${ID}/attach?stdin=1`, false], ['POST', '/containers/create?name=x', false], ['POST', `/containers/${ID}/start?detachKeys=a`, false],
    ['GET', '/containers/json?all=true', false], ['GET', `/containers/json?filters=${encodeURIComponent('{"label":["a=b"]}')}`, false],
    ['GET', `/events?filters=${encodeURIComponent('{"container":["a"]}')}`, false], ['GET', '/events', false],
    // refused as ambiguous: Docker would route a different path than the text shows
    ['GET', `/containers/${ID}%2Fjson`, 400], ['GET', `/containers/%2e%2e/json`, 400], ['GET', `/containers/${ID}/../x/json`, 400],
    ['GET', `/containers//${ID}/json`, 400], ['GET', `/containers/${ID}/json/`, 400], ['GET', `/containers/${ID}/./json`, 400],
    ['GET', `/v1.12/containers/${ID}/json`, 400], ['GET', `/v1..41/_ping`, 400], ['GET', 'http://x/_ping', 400], ['GET', `/_ping#x`, 400],
    ['GET', `/containers/json?filters=${label}&filters=${label}`, 400], ['GET', `/containers/json?filters=${label};x=1`, 400],
    ['GET', `/containers/json?filters=%zz`, 400], ['GET', `/containers/json?filters=${encodeURIComponent('{"label":["a"],"label":[]}')}`, 400],
  ];
  for (const [method, url, allowed, upgrade] of table) {
    it(`${method} ${url.slice(0, 90)}${upgrade ? ' (upgrade)' : ''}: ${allowed === true ? 'allowed' : allowed === 400 ? '400' : '403'}`, () => {
      const d = judgeRequest(method, url, upgrade === true, policy);
      if (allowed === true) expect(d.allow, d.allow ? '' : d.message).to.equal(true);
      else expect(d).to.include({ allow: false, status: allowed === 400 ? 400 : 403 });
    });
  }

  it('forwards only the query parameters Docker reads, re-encoded', () => {
    const d = judgeRequest('POST', `/containers/create?Image=x&HostConfig=${encodeURIComponent('{"Privileged":true}')}`, false, policy);
    expect(d.allow && d.query).to.deep.equal([]);
    const f = judgeRequest('GET', `/containers/json?all=true&filters=${encodeURIComponent(`{"label":{"${LABELS.deployment}=dep":false}}`)}`, false, policy);
    expect(f.allow && f.query).to.deep.equal([['all', 'true'], ['filters', `{"label":{"${LABELS.deployment}=dep":true}}`]]);
  });
});

describe('docker-proxy: strict JSON', () => {
  const ok: [string, unknown][] = [['{"a":1,"b":[true,null,"x"]}', { a: 1, b: [true, null, 'x'] }], ['"\\u00e9"', 'é'], [' [ ] ', []], ['{"__proto__":1}', JSON.parse('{"__proto__":1}')]];
  for (const [text, value] of ok) it(`parses ${text}`, () => expect(parseStrictJson(text)).to.deep.equal(value));
  const refused = ['{"a":1,"A":2}', '{"a":1,"a":2}', '{"x":{"Binds":[],"binds":[]}}', '{"Bindſ":[]}', '{"K\u212a":1}', '{"\\u0042inds":1,"binds":2}',
    '{"a":1}{"b":2}', '{"a":1,}', "{'a':1}", '[1,]', '01', '{"a":"\u0001"}', 'NaN', '{"a":1', '[' .repeat(100) + ']'.repeat(100)];
  for (const text of refused) it(`refuses ${text.slice(0, 40)}`, () => expect(() => parseStrictJson(text)).to.throw());
});

describe('docker-proxy: create bodies', () => {
  const run = { deployment: 'dep', jobId: '1', attempt: 1, node: 'n', deadline: 1 };
  const spec = (): Record<string, any> => JSON.parse(JSON.stringify(buildContainerSpec(ENGINE, run))) as Record<string, any>;
  const variant = (change: (b: Record<string, any>) => void): Record<string, any> => {
    const b = spec();
    change(b);
    return b;
  };

  it('allows exactly what menage sends (an engine container, and one on a named capped volume)', () => {
    expect(judgeContainerCreate(spec(), policy)).to.deep.equal({ problems: [], volumes: [], dataVolumes: [] });
    expect(judgeContainerCreate(JSON.parse(JSON.stringify(buildContainerSpec(ENGINE, run, 'menagerie-1-1-ab'))), policy)).to.deep.equal({ problems: [], volumes: ['menagerie-1-1-ab'], dataVolumes: [] });
  });

  const refused: [string, (b: Record<string, any>) => void, RegExp][] = [
    ['privileged', (b) => (b.HostConfig.Privileged = true), /Privileged/],
    ['a bind', (b) => (b.HostConfig.Binds = ['/:/h']), /Binds/],
    ['a bind mount', (b) => (b.HostConfig.Mounts[0].Type = 'bind'), /Type/],
    ['a volume with driver options', (b) => (b.HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options = { o: 'bind' }), /Options/],
    ['devices', (b) => (b.HostConfig.Devices = []), /Devices/],
    ['a lower-case field', (b) => (b.HostConfig.privileged = false), /"privileged"/],
    ['host pid', (b) => (b.HostConfig.PidMode = 'host'), /PidMode/],
    ['a network', (b) => (b.HostConfig.NetworkMode = 'bridge'), /NetworkMode/],
    ['network enabled', (b) => (b.NetworkDisabled = false), /NetworkDisabled/],
    ['a capability', (b) => (b.HostConfig.CapAdd = ['NET_ADMIN']), /CapAdd/],
    ['no labels', (b) => (b.Labels = {}), /org\.menagerie\.managed/],
    ['another deployment', (b) => (b.Labels[LABELS.deployment] = 'other'), /org\.menagerie\.deployment=dep/],
    ['an unlabelled anonymous volume', (b) => (b.HostConfig.Mounts[0].VolumeOptions.Labels = {}), /VolumeOptions\.Labels/],
    ['another image', (b) => (b.Image = 'alpine'), /image "alpine"/],
    ['seccomp unconfined', (b) => b.HostConfig.SecurityOpt.push('seccomp=unconfined'), /security option/],
    ['apparmor unconfined', (b) => (b.HostConfig.SecurityOpt = ['no-new-privileges', 'apparmor=unconfined']), /security option/],
    ['systempaths unconfined', (b) => b.HostConfig.SecurityOpt.push('systempaths=unconfined'), /security option/],
    ['another tmpfs', (b) => (b.HostConfig.Tmpfs = { '/scratch': 'rw,exec,size=8388608' }), /tmpfs/],
    ['an unknown runtime', (b) => (b.HostConfig.Runtime = 'runc-debug'), /runtime/],
    ['a tty', (b) => (b.Tty = true), /Tty/],
    ['environment', (b) => (b.Env = ['A=1']), /"Env"/],
    ['no memory limit (policy rule)', (b) => (b.HostConfig.Memory = 0), /memory-limit/],
    ['no cap drop (policy rule)', (b) => (b.HostConfig.CapDrop = []), /cap-drop-all/],
    ['a writable root (policy rule)', (b) => (b.HostConfig.ReadonlyRootfs = false), /readonly-rootfs/],
    ['not an object', (b) => (b.HostConfig = []), /HostConfig/],
    ['another command', (b) => (b.Cmd = ['/bin/sh']), /command/],
    ['more memory than any engine', (b) => (b.HostConfig.Memory = b.HostConfig.MemorySwap = 65 * MiB), /HostConfig\.Memory/],
    ['unlimited swap', (b) => (b.HostConfig.MemorySwap = -1), /MemorySwap/],
    ['more pids than any engine', (b) => (b.HostConfig.PidsLimit = 100000), /PidsLimit/],
    ['no CPU limit', (b) => delete b.HostConfig.NanoCpus, /NanoCpus/],
    ['no command (the image default)', (b) => delete b.Cmd, /command/],
    ['root', (b) => (b.User = '0:0'), /user/],
    ['another working directory', (b) => (b.WorkingDir = '/'), /working directory/],
    ['the holder image running something else', (b) => Object.assign(b, { Image: 'menagerie/busybox:latest', Cmd: ['sh', '-c', 'x'] }), /command/],
  ];
  for (const [what, change, pattern] of refused) {
    it(`refuses ${what}`, () => {
      const { problems } = judgeContainerCreate(variant(change), policy);
      expect(problems.join('; ')).to.match(pattern);
    });
  }

  it('allows the volume holder only as capped-volume.ts makes it (sleep N)', () => {
    const holder = { ...spec(), Image: 'menagerie/busybox:latest', Cmd: ['sleep', '120'], User: '65534:65534' };
    expect(judgeContainerCreate(holder, policy).problems).to.deep.equal([]);
  });

  it('volume create: only a labelled tmpfs volume', () => {
    const good = { Name: 'menagerie-1-1-ab', Driver: 'local', Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: 'dep' }, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=8388608,mode=1777,nosuid,nodev,noexec' } };
    expect(judgeVolumeCreate(good, policy)).to.deep.equal([]);
    expect(judgeVolumeCreate({ ...good, DriverOpts: { type: 'none', device: '/', o: 'bind' } }, policy)).to.not.deep.equal([]);
    expect(judgeVolumeCreate({ ...good, DriverOpts: { ...good.DriverOpts, o: 'size=1m,bind' } }, policy)).to.not.deep.equal([]);
    expect(judgeVolumeCreate({ ...good, Labels: {} }, policy)).to.not.deep.equal([]);
    expect(judgeVolumeCreate({ ...good, Driver: 'nfs' }, policy)).to.not.deep.equal([]);
  });
});

describe('docker-proxy: menage.dockerSocket', () => {
  it('a path is the daemon\'s socket, a tcp:// or http:// URL the proxy', () => {
    expect(dockerOptions('/var/run/docker.sock')).to.deep.equal({ socketPath: '/var/run/docker.sock' });
    expect(dockerOptions('tcp://docker-proxy:2375')).to.deep.equal({ protocol: 'http', host: 'docker-proxy', port: 2375 });
    expect(dockerOptions('http://127.0.0.1:9999')).to.deep.equal({ protocol: 'http', host: '127.0.0.1', port: 9999 });
  });
});

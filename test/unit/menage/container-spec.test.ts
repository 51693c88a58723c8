import { expect } from 'chai';
import type { Engine } from '../../../src/engines/engines.js';
import { LABELS } from '../../../src/contract/labels.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';

const engine = (containment: Partial<Engine['containment']> = {}): Engine => ({
  name: 'e', workers: 1, image: 'img:1', cmd: ['/engine/run', 'x'], mountpoint: '/data', sizelimit: 10, inputfilename: 'sample',
  user: '65534:65534', timeoutMs: 10_000,
  containment: { network: 'none', readonly: true, memoryBytes: 64 * 2 ** 20, nanoCpus: 5e8, pids: 32, tmpfs: {}, resultLimit: 1, logLimit: 1, ...containment },
});
const run = { deployment: 'dep-1', jobId: '42', attempt: 2, node: 'n1', deadline: 1234 };

describe('menage/container-spec', () => {
  it('is hardened by default', () => {
    const spec = buildContainerSpec(engine(), run);
    expect(spec.NetworkDisabled).to.equal(true);
    expect(spec.User).to.equal('65534:65534');
    expect(spec.HostConfig?.Mounts).to.deep.equal([{ Type: 'volume', Source: '', Target: '/data', ReadOnly: false,
      VolumeOptions: { NoCopy: false, Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: 'dep-1', [LABELS.job]: '42' },
        DriverConfig: { Name: 'local', Options: {} } } }]);
    expect(spec.HostConfig).to.deep.include({
      NetworkMode: 'none', ReadonlyRootfs: true, Privileged: false, PidsLimit: 32, Memory: 64 * 2 ** 20, MemorySwap: 64 * 2 ** 20,
      NanoCpus: 5e8, IpcMode: 'none', PidMode: '', UTSMode: '', AutoRemove: false,
    });
    expect(spec.HostConfig?.CapDrop).to.deep.equal(['ALL']);
    expect(spec.HostConfig?.CapAdd).to.deep.equal([]);
    expect(spec.HostConfig?.Binds).to.deep.equal([]);
    expect(spec.HostConfig?.SecurityOpt).to.deep.equal(['no-new-privileges']);
    expect(spec.HostConfig?.LogConfig).to.deep.equal({ Type: 'none', Config: {} });
    expect(spec.HostConfig).to.not.have.property('Runtime');
    expect(spec.HostConfig).to.not.have.property('Devices');
  });

  it('labels the container with deployment, job, attempt, node and deadline', () => {
    expect(buildContainerSpec(engine(), run).Labels).to.deep.equal({
      [LABELS.managed]: 'true', [LABELS.deployment]: 'dep-1', [LABELS.job]: '42', [LABELS.engine]: 'e',
      [LABELS.attempt]: '2', [LABELS.node]: 'n1', [LABELS.deadline]: '1234',
    });
  });

  it('passes AppArmor by name, seccomp as the profile JSON itself, tmpfs and runtime', () => {
    const json = '{"defaultAction":"SCMP_ACT_ERRNO"}';
    const spec = buildContainerSpec(engine({ apparmor: 'menagerie-e', seccomp: { file: '/x.json', json }, runtime: 'runsc', tmpfs: { '/scratch': 'rw,noexec,nosuid,nodev,size=8' } }), run);
    expect(spec.HostConfig?.SecurityOpt).to.deep.equal(['no-new-privileges', 'apparmor=menagerie-e', `seccomp=${json}`]);
    expect(spec.HostConfig?.Runtime).to.equal('runsc');
    expect(spec.HostConfig?.Tmpfs).to.deep.equal({ '/scratch': 'rw,noexec,nosuid,nodev,size=8' });
  });

  it('mounts a prepared size-capped volume by name instead of an anonymous one', () => {
    expect(buildContainerSpec(engine({ volumeBytes: 8 }), run, 'menagerie-42-2-abc').HostConfig?.Mounts)
      .to.deep.equal([{ Type: 'volume', Source: 'menagerie-42-2-abc', Target: '/data', ReadOnly: false }]);
  });
});

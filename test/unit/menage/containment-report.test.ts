import { expect } from 'chai';
import type { ContainerInspectInfo } from 'dockerode';
import { createHash } from 'node:crypto';
import { describe as describeContainer, type DaemonFacts } from '../../../src/menage/containment-report.js';

const daemon: DaemonFacts = { userns: true, seccomp: true, apparmor: false, runtimes: ['runc'], defaultRuntime: 'runc' };
const inspect = (host: Record<string, unknown>, extra: Record<string, unknown> = {}): ContainerInspectInfo => ({
  Image: 'sha256:abc', AppArmorProfile: '', Config: { User: '65534:65534', Image: 'img:1' }, Mounts: [],
  HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], CapAdd: null, SecurityOpt: ['no-new-privileges'], IpcMode: 'none', ...host },
  ...extra,
}) as unknown as ContainerInspectInfo;

describe('menage/containment-report', () => {
  it('reports what inspect and the daemon say, not the config', () => {
    const r = describeContainer(inspect({ PidsLimit: 32, Memory: 64, MemorySwap: 64, NanoCpus: 5e8 }), daemon, ['reg/img@sha256:def']);
    expect(r).to.include({ network: 'none', readonlyRootfs: true, noNewPrivileges: true, userns: 'remapped', ipcMode: 'none', pidMode: 'private',
      pidsLimit: 32, seccomp: 'docker default', apparmorProfile: 'none: host has no AppArmor', runtime: 'runc', imageId: 'sha256:abc' });
    expect(r.capAdd).to.deep.equal([]);
    expect(r.repoDigests).to.deep.equal(['reg/img@sha256:def']);
  });

  it('names a custom seccomp profile by hash, an unconfined one as such, and a missing daemon filter', () => {
    const json = '{"defaultAction":"SCMP_ACT_ERRNO"}';
    const hash = createHash('sha256').update(json).digest('hex');
    expect(describeContainer(inspect({ SecurityOpt: ['no-new-privileges', `seccomp=${json}`] }), daemon).seccomp).to.equal(`custom profile sha256:${hash}`);
    expect(describeContainer(inspect({ SecurityOpt: ['seccomp=unconfined'] }), daemon).seccomp).to.equal('unconfined');
    expect(describeContainer(inspect({}), { ...daemon, seccomp: false }).seccomp).to.equal('none: daemon without seccomp');
  });

  it('reports AppArmor as enforced where the host has it, and a requested profile that is not', () => {
    expect(describeContainer(inspect({}, { AppArmorProfile: 'menagerie-md5' }), { ...daemon, apparmor: true }).apparmorProfile).to.equal('menagerie-md5');
    expect(describeContainer(inspect({ SecurityOpt: ['apparmor=menagerie-md5'] }), daemon).apparmorProfile).to.equal('none: host has no AppArmor (asked for menagerie-md5)');
  });

  it('flags host user namespaces, missing no-new-privileges and a non-default runtime', () => {
    const r = describeContainer(inspect({ UsernsMode: 'host', SecurityOpt: [], Runtime: 'runsc' }), daemon);
    expect(r).to.include({ userns: 'host (not remapped)', noNewPrivileges: false, runtime: 'runsc' });
    expect(describeContainer(inspect({}), { ...daemon, userns: false }).userns).to.equal('not remapped');
  });
});

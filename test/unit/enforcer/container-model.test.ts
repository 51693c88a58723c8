import { expect } from 'chai';
import type { ContainerInspectInfo } from 'dockerode';
import { modelFromCreate, modelFromInspect } from '../../../src/enforcer/container-model.js';

describe('enforcer container model (one model from inspect and from create)', () => {
  const inspect = {
    Id: 'f'.repeat(64),
    Name: '/web',
    Image: `sha256:${'a'.repeat(64)}`,
    State: { Running: true, StartedAt: '2026-01-01T00:00:00Z' },
    Config: { Image: 'nginx:1', Labels: { a: 'b' }, User: '', Cmd: ['nginx'], Env: ['X=1'] },
    HostConfig: {
      NetworkMode: 'default', Privileged: false, ReadonlyRootfs: false, Memory: 0, PidsLimit: null, CapAdd: ['CAP_NET_ADMIN'],
      CapDrop: null, SecurityOpt: null, Devices: [{ PathOnHost: '/dev/fuse' }], RestartPolicy: { Name: 'always' },
      PortBindings: { '80/tcp': [{ HostPort: '8080' }] },
    },
    Mounts: [{ Type: 'bind', Source: '/etc', Destination: '/host-etc', RW: false }],
  } as unknown as ContainerInspectInfo;

  it('normalises inspect output with Docker defaults', () => {
    const m = modelFromInspect(inspect);
    expect(m).to.include({ name: 'web', image: 'nginx:1', networkMode: 'bridge', pidsLimit: 0, memory: 0, running: true, restartPolicy: 'always' });
    expect(m.imageId).to.equal(`sha256:${'a'.repeat(64)}`);
    expect(m.startedAt).to.equal(Date.parse('2026-01-01T00:00:00Z'));
    expect(m.capAdd).to.deep.equal(['NET_ADMIN']);
    expect(m.capDrop).to.deep.equal([]);
    expect(m.devices).to.deep.equal(['/dev/fuse']);
    expect(m.portBindings).to.deep.equal(['80/tcp']);
    expect(m.mounts).to.deep.equal([{ type: 'bind', source: '/etc', target: '/host-etc', readOnly: true }]);
  });

  it('gives the same model for the equivalent create body', () => {
    const body = {
      name: 'web', Image: 'nginx:1', Labels: { a: 'b' }, Cmd: 'nginx', Env: ['X=1'],
      HostConfig: { CapAdd: ['net_admin'], Binds: ['/etc:/host-etc:ro'], Devices: [{ PathOnHost: '/dev/fuse' }], RestartPolicy: { Name: 'always' }, PortBindings: { '80/tcp': [] } },
    };
    const { id: _i, imageId: _d, running: _r, startedAt: _s, ...fromCreate } = modelFromCreate(body);
    const { id: _i2, imageId: _d2, running: _r2, startedAt: _s2, ...fromInspect } = modelFromInspect(inspect);
    expect(fromCreate).to.deep.equal(fromInspect);
  });

  it('reads named volumes, Mounts and anonymous Volumes, and NetworkDisabled', () => {
    const m = modelFromCreate({ NetworkDisabled: true, Volumes: { '/data': {} }, HostConfig: { Binds: ['vol:/v'], Mounts: [{ Type: 'tmpfs', Target: '/t' }] } });
    expect(m.networkMode).to.equal('none');
    expect(m.mounts.map((x) => `${x.type}:${x.target}`)).to.deep.equal(['volume:/v', 'tmpfs:/t', 'volume:/data']);
  });
});

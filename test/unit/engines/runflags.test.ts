import { expect } from 'chai';
import { parseRunflags, splitFlags } from '../../../src/engines/runflags.js';

describe('engines/runflags', () => {
  const accepted: Array<[string, Record<string, unknown>]> = [
    ['', {}],
    ['--net=none --read-only', { network: 'none', readonly: true }],
    ['--network none', { network: 'none' }],
    ['--read-only=true', { readonly: true }],
    ['--memory 512m', { memory: '512m' }],
    ['-m 1g', { memory: '1g' }],
    ['--memory=64m', { memory: '64m' }],
    ['--cpus 0.5', { cpus: 0.5 }],
    ['--cpus=2', { cpus: 2 }],
    ['--pids-limit 64', { pids: 64 }],
    ['--security-opt apparmor:menagerie-md5', { apparmor: 'menagerie-md5' }],
    ['--security-opt apparmor=menagerie-md5', { apparmor: 'menagerie-md5' }],
    ['--security-opt seccomp=/etc/menagerie/seccomp.json', { seccomp: '/etc/menagerie/seccomp.json' }],
    ['--security-opt no-new-privileges', {}],
    ['--security-opt no-new-privileges:true', {}],
    ['--runtime runsc', { runtime: 'runsc' }],
    ['--user 1000:1000', { user: '1000:1000' }],
    ['-u nobody', { user: 'nobody' }],
    ['--cap-drop ALL', {}],
    ['--tmpfs /scratch:rw,size=16m', { tmpfs: { '/scratch': '16m' } }],
    ['--tmpfs /tmp', { tmpfs: { '/tmp': '' } }],
    ['--net=none --read-only --security-opt "apparmor:x" -m 128m', { network: 'none', readonly: true, apparmor: 'x', memory: '128m' }],
  ];
  for (const [flags, settings] of accepted) {
    it(`accepts ${JSON.stringify(flags)}`, () => {
      expect(parseRunflags(flags)).to.deep.equal({ settings, errors: [] });
    });
  }

  const refused: Array<[string, RegExp]> = [
    ['--privileged', /unsupported or unsafe flag --privileged/],
    ['-v /host:/data', /unsupported or unsafe flag -v/],
    ['--volume=/etc:/etc', /unsupported or unsafe flag --volume=\/etc:\/etc/],
    ['--mount type=bind,src=/,dst=/host', /unsupported or unsafe flag --mount/],
    ['--net=host', /--net=host: engines get no network; only "none" is allowed/],
    ['--network bridge', /--network=bridge: engines get no network/],
    ['--pid=host', /unsupported or unsafe flag --pid=host/],
    ['--ipc=host', /unsupported or unsafe flag --ipc=host/],
    ['--uts=host', /unsupported or unsafe flag --uts=host/],
    ['--userns=host', /unsupported or unsafe flag --userns=host/],
    ['--cap-add SYS_ADMIN', /unsupported or unsafe flag --cap-add/],
    ['--cap-add=ALL', /unsupported or unsafe flag --cap-add=ALL/],
    ['--device /dev/sda', /unsupported or unsafe flag --device/],
    ['--security-opt seccomp=unconfined', /seccomp needs a profile and cannot be unconfined/],
    ['--security-opt apparmor:unconfined', /apparmor needs a profile and cannot be unconfined/],
    ['--security-opt label=disable', /only apparmor, seccomp and no-new-privileges are allowed/],
    ['--security-opt no-new-privileges:false', /no-new-privileges cannot be turned off/],
    ['--read-only=false', /only --read-only \(true\) is allowed/],
    ['--pids-limit -1', /unlimited is refused/],
    ['--pids-limit 0', /unlimited is refused/],
    ['--cpus lots', /not a positive number/],
    ['--tmpfs relative', /the path must be absolute/],
    ['--memory', /--memory needs a value/],
    ['--rm', /unsupported or unsafe flag --rm/],
    ['--entrypoint /bin/sh', /unsupported or unsafe flag --entrypoint/],
  ];
  for (const [flags, message] of refused) {
    it(`refuses ${JSON.stringify(flags)}`, () => {
      const { errors } = parseRunflags(flags);
      expect(errors.length, JSON.stringify(errors)).to.be.at.least(1);
      expect(errors.join('\n')).to.match(message);
    });
  }

  it('reports every refused flag of a line, not just the first', () => {
    const { errors } = parseRunflags('--privileged --net=host --cap-add NET_ADMIN --read-only');
    expect(errors).to.have.length(3);
  });

  it('splits on white space, honouring quotes', () => {
    expect(splitFlags(`--a "b c" 'd e' f`)).to.deep.equal(['--a', 'b c', 'd e', 'f']);
  });
});

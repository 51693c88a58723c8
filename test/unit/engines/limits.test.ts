import { expect } from 'chai';
import { BOUNDS, isRootUser, settingProblem, type CheckedSetting } from '../../../src/engines/limits.js';
import { parseRunflags } from '../../../src/engines/runflags.js';

describe('engines/limits: the one check for engines.json fields and runflags', () => {
  const roots: unknown[] = ['', '0', '00', '+0', '-0', ' 0', 'root', 'ROOT', 'Root', '0:0', 'root:root', '0:65534', '65534:0', '65534:root', ':1000', 0];
  const users: unknown[] = ['65534:65534', '65534', '1000:1000', 'nobody', 'nobody:nogroup', '10', '100:100', 1000];
  for (const u of roots) it(`${JSON.stringify(u)} is root`, () => expect(isRootUser(u)).to.equal(true));
  for (const u of users) it(`${JSON.stringify(u)} is not root`, () => expect(isRootUser(u)).to.equal(false));

  const table: Array<[CheckedSetting, unknown, RegExp | undefined]> = [
    ['apparmor', 'menagerie-engine-md5', undefined],
    ['apparmor', 'unconfined', /apparmor needs a profile and cannot be unconfined/],
    ['apparmor', 'UNCONFINED', /cannot be unconfined/],
    ['apparmor', '', /cannot be unconfined/],
    ['seccomp', 'profile.json', undefined],
    ['seccomp', 'default', undefined],
    ['seccomp', 'unconfined', /seccomp needs a profile and cannot be unconfined/],
    ['seccomp', ' ', /cannot be unconfined/],
    ['user', '0:0', /is root/],
    ['user', 'root', /is root/],
    ['user', 0, /is root/],
    ['user', '65534:65534', undefined],
    ['pids', 1, undefined],
    ['pids', BOUNDS.pids, undefined],
    ['pids', BOUNDS.pids + 1, /from 1 to 4096/],
    ['pids', 100000, /from 1 to 4096/],
    ['pids', 0, /unlimited is refused/],
    ['memory', '4m', undefined],
    ['memory', '16g', undefined],
    ['memory', BOUNDS.memoryBytes, undefined],
    ['memory', BOUNDS.memoryBytes + 1, /above the bound of 16g/],
    ['memory', '17g', /above the bound of 16g/],
    ['memory', '1m', /at least 4m/],
    ['memory', 'lots', /cannot read size/],
    ['cpus', 0.5, undefined],
    ['cpus', BOUNDS.cpus, undefined],
    ['cpus', BOUNDS.cpus + 0.5, /at most 16/],
    ['cpus', 0, /above 0/],
  ];
  for (const [key, value, want] of table) {
    it(`${key} ${JSON.stringify(value)} → ${want ? 'refused' : 'accepted'}`, () => {
      const problem = settingProblem(key, value);
      if (want) expect(problem).to.match(want);
      else expect(problem).to.equal(undefined);
    });
  }

  // The same values written as runflags get the same verdicts.
  const flags: Array<[string, CheckedSetting, unknown]> = [
    ['--security-opt apparmor=unconfined', 'apparmor', 'unconfined'],
    ['--security-opt apparmor=', 'apparmor', ''],
    ['--security-opt seccomp:unconfined', 'seccomp', 'unconfined'],
    ['--user 0:0', 'user', '0:0'],
    ['-u root', 'user', 'root'],
    ['--user 65534:0', 'user', '65534:0'],
    ['--pids-limit 100000', 'pids', 100000],
    ['--pids-limit 4096', 'pids', 4096],
    ['--memory 17g', 'memory', '17g'],
    ['-m 16g', 'memory', '16g'],
    ['-m 1m', 'memory', '1m'],
    ['--cpus 17', 'cpus', 17],
    ['--cpus 16', 'cpus', 16],
  ];
  for (const [line, key, value] of flags) {
    it(`runflags ${JSON.stringify(line)} get the verdict of the field ${key}: ${JSON.stringify(value)}`, () => {
      const problem = settingProblem(key, value);
      const { settings, errors } = parseRunflags(line);
      if (problem) {
        expect(errors).to.have.length(1);
        expect(errors[0]).to.contain(problem);
        expect(settings).to.deep.equal({});
      } else {
        expect(errors).to.deep.equal([]);
        expect(settings).to.deep.equal({ [key]: value });
      }
    });
  }
});

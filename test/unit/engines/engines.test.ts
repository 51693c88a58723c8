import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, loadEngines } from '../../../src/engines/engines.js';
import type { ConfigProblem } from '../../../src/errors.js';

describe('engines/engines: engines.json validation and containment', () => {
  let dir: string;
  const base = { name: 'e', image: 'img:1', cmd: '/engine/run', mountpoint: '/data', sizelimit: 100, inputfilename: 'sample', timeout: 10 };
  const load = async (engines: unknown[]): Promise<{ engines: ReturnType<typeof loadEngines>; problems: ConfigProblem[] }> => {
    const file = join(dir, 'engines.json');
    await writeFile(file, JSON.stringify({ engines }));
    const problems: ConfigProblem[] = [];
    return { engines: loadEngines(file, {}, problems), problems };
  };
  const messages = (problems: ConfigProblem[]): string[] => problems.map((p) => `${p.pointer}: ${p.message}`);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-engines-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives every engine the hardened defaults', async () => {
    const { engines, problems } = await load([base]);
    expect(problems).to.deep.equal([]);
    expect(engines[0]?.user).to.equal(DEFAULTS.user);
    expect(engines[0]?.containment).to.deep.equal({
      network: 'none', readonly: true, memoryBytes: 512 * 2 ** 20, nanoCpus: 1e9, pids: 128, tmpfs: {},
      resultLimit: 64 * 2 ** 20, logLimit: 64 * 1024,
    });
  });

  it('warm: 0 by default, 0 to 16 containers created ahead, not with a per-job capped volume', async () => {
    const ok = await load([base, { ...base, name: 'w', warm: 3 }]);
    expect(ok.problems).to.deep.equal([]);
    expect(ok.engines.map((e) => e.warm)).to.deep.equal([0, 3]);
    const bad = await load([{ ...base, warm: 17 }, { ...base, name: 'f', warm: 1.5 }, { ...base, name: 'c', warm: 1, volumesize: '16m' }]);
    expect(messages(bad.problems)).to.have.length(3);
    expect(messages(bad.problems)[2]).to.equal('/engines/2/warm: engine "c": "warm" cannot be used with "volumesize" (the capped volume is made for each job)');
  });

  it('takes explicit fields and runflags into the same settings', async () => {
    const { engines, problems } = await load([
      { ...base, name: 'a', memory: '32m', cpus: 0.5, pids: 16, tmpfs: { '/scratch': '8m' }, apparmor: 'menagerie-a', runtime: 'runsc', resultlimit: '1m', loglimit: 1000, volumesize: '16m' },
      { ...base, name: 'b', runflags: '--net=none --read-only -m 32m --cpus 0.5 --pids-limit 16 --tmpfs /scratch:size=8m --security-opt apparmor:menagerie-a --runtime runsc' },
    ]);
    expect(problems).to.deep.equal([]);
    expect(engines[0]?.containment).to.deep.include({ memoryBytes: 32 * 2 ** 20, nanoCpus: 5e8, pids: 16, apparmor: 'menagerie-a', runtime: 'runsc', resultLimit: 2 ** 20, logLimit: 1000, volumeBytes: 16 * 2 ** 20 });
    expect(engines[0]?.containment.tmpfs).to.deep.equal({ '/scratch': `rw,noexec,nosuid,nodev,size=${8 * 2 ** 20}` });
    const { resultLimit: _r, logLimit: _l, ...fromFlags } = engines[1]!.containment;
    const { resultLimit: _r2, logLimit: _l2, volumeBytes: _v, ...fromFields } = engines[0]!.containment;
    expect(fromFlags).to.deep.equal(fromFields);
  });

  it('allows an explicit readonly:false, never a network', async () => {
    const { engines, problems } = await load([{ ...base, readonly: false }]);
    expect(problems).to.deep.equal([]);
    expect(engines[0]?.containment.readonly).to.equal(false);
    const bad = await load([{ ...base, network: 'bridge' }]);
    expect(messages(bad.problems).join('\n')).to.match(/\/engines\/0\/network/);
  });

  it('refuses an unsafe runflag at start-up, naming the engine and the flag', async () => {
    const { problems } = await load([{ ...base, name: 'legacy', runflags: '--net=none --privileged -v /:/host' }]);
    expect(problems.map((p) => p.pointer)).to.deep.equal(['/engines/0/runflags', '/engines/0/runflags']);
    expect(problems[0]?.message).to.equal('engine "legacy": unsupported or unsafe flag --privileged');
    expect(problems[1]?.message).to.equal('engine "legacy": unsupported or unsafe flag -v /:/host');
  });

  it('reports a field that disagrees with runflags', async () => {
    const { problems } = await load([{ ...base, memory: '64m', runflags: '--memory 128m' }]);
    expect(messages(problems)).to.deep.equal(['/engines/0/memory: engine "e": "memory" disagrees with runflags ("128m")']);
  });

  it('reports every problem of every engine at once: schema, runflags, seccomp, tmpfs, memory', async () => {
    await writeFile(join(dir, 'not-json.json'), '{ nope');
    const { problems } = await load([
      { ...base, name: 'schema', workers: 0, cpus: -1 },
      { ...base, name: 'flags', runflags: '--cap-add SYS_ADMIN --pid=host' },
      { ...base, name: 'seccomp', seccomp: 'not-json.json' },
      { ...base, name: 'hides', tmpfs: { '/data': '8m' } },
      { ...base, name: 'tiny', memory: '1m' },
      { ...base, name: 'missing', seccomp: 'nowhere.json' },
    ]);
    const seen = messages(problems);
    expect(seen.some((m) => m.startsWith('/engines/0/workers'))).to.equal(true);
    expect(seen.some((m) => m.startsWith('/engines/0/cpus'))).to.equal(true);
    expect(seen).to.include.members([
      '/engines/1/runflags: engine "flags": unsupported or unsafe flag --cap-add SYS_ADMIN',
      '/engines/1/runflags: engine "flags": unsupported or unsafe flag --pid=host',
      '/engines/3/tmpfs: engine "hides": tmpfs /data would hide the input volume at /data',
      '/engines/4/memory: engine "tiny": memory must be at least 4m',
    ]);
    expect(seen.some((m) => /^\/engines\/2\/seccomp: engine "seccomp": seccomp profile .*not-json\.json is not JSON/.test(m))).to.equal(true);
    expect(seen.some((m) => /^\/engines\/5\/seccomp: engine "missing": cannot read seccomp profile .*nowhere\.json: ENOENT/.test(m))).to.equal(true);
  });

  it('reads a seccomp profile at start-up (relative to engines.json) and keeps its JSON for the API', async () => {
    const profile = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }] };
    await writeFile(join(dir, 'profile.json'), JSON.stringify(profile, null, 2));
    const { engines, problems } = await load([{ ...base, seccomp: 'profile.json' }, { ...base, name: 'd', seccomp: 'default' }]);
    expect(problems).to.deep.equal([]);
    expect(engines[0]?.containment.seccomp).to.deep.equal({ file: join(dir, 'profile.json'), json: JSON.stringify(profile) });
    expect(engines[1]?.containment.seccomp).to.equal(undefined);
  });

  it('refuses seccomp profiles that are not profiles or allow everything, and "unconfined"', async () => {
    await writeFile(join(dir, 'array.json'), '[]');
    await writeFile(join(dir, 'allow.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }));
    const { problems } = await load([
      { ...base, name: 'a', seccomp: 'array.json' },
      { ...base, name: 'b', seccomp: 'allow.json' },
      { ...base, name: 'c', seccomp: 'unconfined' },
    ]);
    const seen = messages(problems).join('\n');
    expect(seen).to.match(/\/engines\/0\/seccomp: .*is not a seccomp profile/);
    expect(seen).to.match(/\/engines\/1\/seccomp: .*allows system calls by default; a profile must deny by default/);
    expect(seen).to.match(/\/engines\/2\/seccomp/);
  });
  it('refuses unconfined profiles, root users and resources above the bounds in fields as in runflags (issue 15.7)', async () => {
    const fields = [
      { apparmor: 'unconfined' }, { seccomp: 'unconfined' }, { user: '0:0' }, { user: 'root' }, { user: 0 }, { user: '65534:0' },
      { pids: 100000 }, { memory: '32g' }, { cpus: 32 },
    ];
    const flags = ['--security-opt apparmor=unconfined', '--security-opt seccomp=unconfined', '--user 0:0', '-u root', '--user 0',
      '--user 65534:0', '--pids-limit 100000', '--memory 32g', '--cpus 32'];
    const { engines, problems } = await load([
      ...fields.map((f, i) => ({ ...base, name: `field${i}`, ...f })),
      ...flags.map((f, i) => ({ ...base, name: `flag${i}`, runflags: f })),
    ]);
    const seen = messages(problems);
    fields.forEach((f, i) => {
      const key = Object.keys(f)[0] as string;
      expect(seen.filter((m) => m.startsWith(`/engines/${i}/${key}: engine "field${i}": `)), JSON.stringify(f)).to.have.length(1);
    });
    flags.forEach((f, i) => {
      expect(seen.filter((m) => m.startsWith(`/engines/${fields.length + i}/runflags: engine "flag${i}": `)), f).to.have.length(1);
    });
    expect(problems).to.have.length(fields.length + flags.length);
    expect(engines.map((e) => e.name)).to.have.length(fields.length + flags.length);
  });

  it('accepts every setting exactly at its bound', async () => {
    const { engines, problems } = await load([{ ...base, pids: 4096, memory: '16g', cpus: 16, user: '1:1', apparmor: 'p' }, { ...base, name: 'f', runflags: '--pids-limit 4096 -m 16g --cpus 16 -u 1:1' }]);
    expect(problems).to.deep.equal([]);
    for (const e of engines) expect(e.containment).to.deep.include({ pids: 4096, memoryBytes: 16 * 2 ** 30, nanoCpus: 16e9 });
  });
});

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, waitFor } from './helpers.js';

const ENTRY = fileURLToPath(new URL('../../../src/enforcer.js', import.meta.url));

describe('enforcer process (runEnforcer): signals and rule reload', function () {
  this.timeout(30_000);
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
  });

  function setup(rules: unknown): { dir: string; config: string } {
    const dir = tempDir();
    writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
    // AuthZ source only: this process never scans or touches the shared daemon's containers.
    const config = { rulesFile: 'rules.json', authz: { listen: { host: '127.0.0.1', port: 0 } }, api: { listen: { host: '127.0.0.1', port: 0 } } };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return { dir, config: join(dir, 'config.json') };
  }

  function start(args: string[]): { out: string[]; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const script = `import(${JSON.stringify(ENTRY)}).then((m) => m.runEnforcer(${JSON.stringify(args)})).catch((e) => { console.error(e.message); process.exitCode = 1; })`;
    child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (c: Buffer) => out.push(...c.toString().split('\n').filter(Boolean)));
    child.stderr?.on('data', (c: Buffer) => err.push(c.toString()));
    return { out, err };
  }

  const rule = (name: string) => ({ name, violation: { field: 'container.privileged', op: 'eq', value: true } });

  it('reloads rules atomically on SIGHUP, keeps them on a bad file, exits cleanly on SIGTERM', async () => {
    const { dir, config } = setup({ rules: [rule('first')] });
    const { out } = start(['--config', config]);
    const started = await waitFor('the start log line', () => out.map((l) => JSON.parse(l) as { msg: string; name: string; apiAddress?: string }).find((l) => l.msg === 'enforcer started' && l.name === 'enforcer'));
    const api = started.apiAddress as string;
    const rulesNow = async () => ((await (await fetch(`${api}/rules`)).json()) as { hash: string; rules: Array<{ name: string }> });
    const before = await rulesNow();
    expect(before.rules.map((r) => r.name)).to.deep.equal(['first']);

    writeFileSync(join(dir, 'rules.json'), JSON.stringify({ rules: [rule('second'), rule('third')] }));
    child?.kill('SIGHUP');
    const after = await waitFor('the new rules', async () => ((await rulesNow()).rules.length === 2 ? rulesNow() : undefined));
    expect(after.rules.map((r) => r.name)).to.deep.equal(['second', 'third']);
    expect(after.hash).to.not.equal(before.hash);
    const config1 = (await (await fetch(`${api}/config`)).json()) as { rules: { hash: string } };
    expect(config1.rules.hash).to.equal(after.hash);

    writeFileSync(join(dir, 'rules.json'), JSON.stringify({ rules: [{ name: 'bad', violation: { field: 'container.nope', op: 'eq', value: 1 } }] }));
    child?.kill('SIGHUP');
    await waitFor('the refusal to be logged', () => out.some((l) => l.includes('rules reload refused')));
    expect((await rulesNow()).hash).to.equal(after.hash);

    child?.kill('SIGTERM');
    const [code] = (await once(child as ChildProcess, 'exit')) as [number];
    expect(code).to.equal(0);
  });

  it('refuses to start with every config and rules problem listed', async () => {
    const { config } = setup({ rules: [{ name: 'x', violation: { field: 'container.memory', op: 'regex', value: '(' } }] });
    const { err } = start(['--config', config, '--check']);
    const [code] = (await once(child as ChildProcess, 'exit')) as [number];
    expect(code).to.equal(1);
    expect(err.join('')).to.include('/rules/0/violation').and.include('"regex" needs a string field');
  });
});

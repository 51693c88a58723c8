import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { applianceAuth, changedTasks, ok, root, run, takeSnapshot, timed, type Run } from '../../support/appliance.js';
import { nodeLog, nodeName, onNode, removeNode, requireTools, routeToFrontend, startNode, writeInventory, type Node } from './worker-node-host.js';

// The playbook provisioning a real worker node (docs/scale-out.md, issue 22): a second host on
// this machine (worker-node-host.ts: its own network namespace, root filesystem and dockerd,
// reached over ssh) and this machine as the frontend host, both in one inventory in the shape
// of ansible/inventory/scale-out. Everything the node needs from the frontend side (CA,
// certificate, AMQPS listener, HTTPS internal API, registry address, worker token, broker
// account) comes from the playbook run. The node's group serves md5 and the frontend's menage
// every other engine, so every md5 job must run on the node. Assumes the appliance is
// provisioned (appliance.test.ts); at the end the single-box playbook takes it back.

const api = 'http://127.0.0.1:8100';
const CLI = '/usr/local/sbin/menagerie';
const ENGINE = 'md5';
const JOBS = 6;
const NODE_ENGINES = [ENGINE];

const playbookEnv = { ANSIBLE_CONFIG: join(root, 'ansible/ansible.cfg'), ANSIBLE_NOCOLOR: '1' };

/** The PLAY RECAP counters of one host. */
function recapOf(out: string, host: string): Record<string, number> {
  const line = out.split('\n').find((l) => l.startsWith(`${host} `) && /\sok=\d+/.test(l));
  expect(line, `no PLAY RECAP line for ${host} in:\n${out.slice(-3000)}`).to.be.a('string');
  return Object.fromEntries([...line!.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

/** The rows of a query on the appliance's database (root over the unix socket, as the host's admin). */
async function sql(query: string): Promise<string[][]> {
  const r = await ok('mysql', ['-N', '-B', 'menagerie', '-e', query]);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split('\t'));
}

/** The Docker engine's container starts since `since` (seconds) that carry the label, as `job node` pairs. */
async function starts(where: (cmd: string) => Promise<Run>, since: number): Promise<string[]> {
  const now = Math.ceil(Date.now() / 1000);
  const fmt = "'{{ index .Actor.Attributes \"org.menagerie.job\" }} {{ index .Actor.Attributes \"org.menagerie.node\" }}'";
  const r = await where(`docker events --since ${since} --until ${now} --filter type=container --filter event=start --filter label=org.menagerie.job --format ${fmt}`);
  expect(r.code, r.stderr).to.equal(0);
  return r.stdout.trim().split('\n').filter(Boolean);
}
const onHost = (cmd: string): Promise<Run> => run('bash', ['-c', cmd]);

/** The worker node provisioned by the playbook (registered by appliance.test.ts after provisioning). */
export function workerNodeChecks(): void {
  describe('e2e: a worker node provisioned by the playbook (ssh, TLS, its own token)', function () {
    this.timeout(1_800_000);
    const name = nodeName();
    let node: Node | undefined;
    let snapshot = '';
    let inventory = '';
    let restored = false;
    let heldJob = '';
    let auth: Record<string, string> = {};
    const playbook = (...extra: string[]): Promise<Run> =>
      run('ansible-playbook', ['-i', inventory, 'ansible/site.yml', ...extra], { env: playbookEnv, timeoutMs: 1_500_000 });
    const singleBox = (): Promise<Run> =>
      run('ansible-playbook', ['-i', 'localhost,', '-c', 'local', 'ansible/site.yml', '-e', `menagerie_src_dir=${snapshot}`],
        { env: playbookEnv, timeoutMs: 1_500_000 });
    const upload = async (body: Buffer): Promise<string> => {
      const form = new FormData();
      form.append('upload', new Blob([new Uint8Array(body)]), 'sample.bin');
      const res = await fetch(`${api}/${ENGINE}/upload?force=1`, { method: 'POST', body: form, headers: auth });
      const json = (await res.json()) as { jobid: string };
      expect(res.status, JSON.stringify(json)).to.equal(200);
      return json.jobid;
    };
    const record = async (id: string): Promise<{ status: string; summary: string }> =>
      (await fetch(`${api}/api/v1/jobs/${id}`, { headers: auth })).json() as Promise<{ status: string; summary: string }>;
    const waitDone = async (id: string, ms: number): Promise<{ status: string; summary: string }> => {
      const until = Date.now() + ms;
      for (;;) {
        const r = await record(id);
        if (r.status === 'Success' || r.status === 'Fail' || Date.now() > until) return r;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };

    before(async () => {
      await requireTools();
      auth = applianceAuth();
      snapshot = await takeSnapshot();
      node = await timed('starting the node container (Debian rootfs, sshd)', () => startNode(name, snapshot));
      await routeToFrontend(node, 'menagerie0', true);
      const all = (JSON.parse(await readFile(join(snapshot, 'engines/engines.json'), 'utf8')) as { engines: { name: string }[] }).engines.map((e) => e.name);
      inventory = await writeInventory(node, snapshot, NODE_ENGINES, all.filter((e) => !NODE_ENGINES.includes(e)));
    });

    after(async () => {
      const left: string[] = [];
      // The token and broker account the playbook made for the node, and its copies on the host.
      await run(CLI, ['token', 'revoke', name]);
      await run('rabbitmqctl', ['delete_user', `menagerie-node-${name}`]);
      for (const ext of ['token', 'amqp']) await rm(`/etc/menagerie/secrets/workers/${name}.${ext}`, { force: true });
      if (node && !restored) {
        const back = await timed('single-box playbook (after a failure)', singleBox);
        if (back.code !== 0) left.push(`the single-box appliance (playbook failed: ${back.stdout.slice(-2000)})`);
      }
      if (node) left.push(...await removeNode(node, 'menagerie0'));
      if (snapshot) await rm(snapshot, { recursive: true, force: true });
      expect(left, 'left behind').to.deep.equal([]);
    });

    it('provisions the node over ssh: its own Docker engine with the appliance settings, menage, docker-proxy and the enforcer healthy', async () => {
      const r = await timed('playbook: frontend host + worker node (first run)', () => playbook());
      const figure = r.stdout.match(/^\S+\s+:\s+ok=.*$/gm) ?? [];
      console.log(figure.map((l) => `      ${l}`).join('\n'));
      expect(r.code, `the playbook failed:\n${r.stdout.slice(-8000)}\n${r.stderr.slice(-3000)}`).to.equal(0);
      expect(recapOf(r.stdout, name)).to.include({ failed: 0, unreachable: 0 });
      const status = await onNode(node!, '/usr/local/sbin/menageriectl status');
      for (const service of ['menage', 'docker-proxy', 'enforcer']) expect(status.stdout).to.match(new RegExp(`^${service} running healthy$`, 'm'));
      expect(status.stdout, 'no frontend on a worker node').to.not.match(/^frontend /m);
      // The node's own dockerd, with the appliance's daemon settings (not the host's engine).
      const daemon = await onNode(node!, 'cat /etc/docker/daemon.json; docker info -f "{{ .Name }} {{ .SecurityOptions }}"');
      expect(daemon.stdout).to.include(await readFile(join(root, 'ansible/roles/docker/files/daemon.json'), 'utf8'));
      expect(daemon.stdout).to.match(new RegExp(`^${name} .*name=userns`, 'm'));
      // Its configuration: TLS to the frontend host's cluster address, its own token and name, no database.
      const config = JSON.parse((await onNode(node!, 'cat /etc/menagerie/config/menagerie.json')).stdout);
      expect(config.menage).to.include({ frontendUrl: `https://${node!.gateway}:8101`, node: name, token: '${MENAGERIE_WORKER_TOKEN}' });
      expect(config.menage.engines).to.deep.equal(NODE_ENGINES);
      expect(config).to.not.have.any.keys('mysql', 'store', 'internalToken');
      const env = (await onNode(node!, 'cat /etc/menagerie/secrets/menagerie.env')).stdout;
      expect(env).to.match(new RegExp(`^MENAGERIE_AMQP_URL=amqps://menagerie-node-${name}:[0-9a-f]+@${node!.gateway.replace(/\./g, '\\.')}:5671/`, 'm'));
      const token = /^MENAGERIE_WORKER_TOKEN=(mng_\S+)$/m.exec(env)?.[1];
      expect(token, 'a worker token of its own').to.be.a('string');
      expect((await run(CLI, ['token', 'list'])).stdout).to.match(new RegExp(`${name}.*worker`));
    });

    it(`runs ${ENGINE} jobs on the node: its containers start in the node's dockerd, the job records the node, the result comes back through the frontend`, async () => {
      const since = Math.floor(Date.now() / 1000) - 1;
      const t0 = Date.now();
      const bodies = Array.from({ length: JOBS }, () => randomBytes(2048));
      const ids = await Promise.all(bodies.map(upload));
      const views = await Promise.all(ids.map((id) => waitDone(id, 180_000)));
      const seconds = (Date.now() - t0) / 1000;
      views.forEach((v, i) => expect(v, JSON.stringify(v)).to.include({ status: 'Success', summary: `${createHash('md5').update(bodies[i]!).digest('hex')}\n` }));
      const workers = await sql(`SELECT id, worker FROM jobs WHERE id IN (${ids.join(',')})`);
      expect(workers.map((w) => w[1]), 'the worker recorded on each job').to.deep.equal(ids.map(() => name));
      const onNodeStarts = await starts((cmd) => onNode(node!, cmd), since);
      const onHostStarts = await starts(onHost, since);
      for (const id of ids) {
        expect(onNodeStarts, `job ${id}'s container on the node's dockerd`).to.include(`${id} ${name}`);
        expect(onHostStarts.filter((s) => s.startsWith(`${id} `)), `job ${id} on the host's dockerd`).to.deep.equal([]);
      }
      console.log(`      [figures] ${JOBS} ${ENGINE} jobs, all on ${name} (node containers started: ${onNodeStarts.length}), done in ${seconds.toFixed(1)}s`);
    });

    it('a second playbook run on the node changes nothing', async () => {
      const again = await timed('playbook on the node (second run)', () => playbook('--limit', name));
      expect(again.code, again.stdout.slice(-5000)).to.equal(0);
      expect(recapOf(again.stdout, name), `changed tasks:\n${changedTasks(again.stdout).join('\n')}`).to.include({ changed: 0, failed: 0 });
    });

    it("revoking the node's token on the frontend host (menagerie token revoke) stops the node taking jobs", async () => {
      await ok(CLI, ['token', 'revoke', name]);
      heldJob = await upload(randomBytes(1024));
      const waited = await waitDone(heldJob, 45_000);
      expect(waited.status, 'no node may run it: the only one serving md5 is cut off').to.equal('Received');
      expect(await nodeLog(node!, 'menage')).to.include("the frontend refused this node's token (401)");
      expect((await sql(`SELECT COUNT(*) FROM jobs WHERE id = ${heldJob} AND worker IS NOT NULL`))[0]![0]).to.equal('0');
    });

    it("removing the node as documented (its broker account deleted, the single-box playbook): the held job then runs on the host's own menage", async () => {
      // docs/scale-out.md, "Removing a node": the account's deletion closes the node's broker
      // connection, so the messages it held go back to their queue.
      await ok('rabbitmqctl', ['delete_user', `menagerie-node-${name}`]);
      const back = await timed('single-box playbook (the node removed from the inventory)', singleBox);
      expect(back.code, back.stdout.slice(-5000)).to.equal(0);
      restored = true;
      const done = await waitDone(heldJob, 180_000);
      expect(done.status, JSON.stringify(done)).to.equal('Success');
      expect((await sql(`SELECT worker FROM jobs WHERE id = ${heldJob}`))[0]![0]).to.not.equal(name);
      await ok('/usr/local/sbin/menageriectl', ['status']);
    });
  });
}

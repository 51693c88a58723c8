import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { names } from '../../../src/queue/topology.js';
import { applianceAuth, ok, run } from '../../support/appliance.js';

// Engine version management on the provisioned appliance, as an operator does it
// (docs/engines.md, "Versions while running"): edit the rendered engines.json, then
// `menagerie engines reload` on the host, which signals docker-proxy, menage and the frontend
// and waits for their verdicts. Assumes the appliance is provisioned and running (as
// test/e2e/appliance.test.ts leaves it); restores engines.json and reloads at the end.

const api = 'http://127.0.0.1:8100';
const ENGINES = '/etc/menagerie/config/engines.json';
const CLI = '/usr/local/sbin/menagerie';
// A fixed tag: it is pushed to the appliance's registry (which cannot delete a tag alone), so
// every run reuses it instead of leaving one more behind.
const TAG = 'apptest-pull';
const ADDED = `md5apptest${randomBytes(2).toString('hex')}`;

interface Entry { name: string; image: string; cmd: unknown; [k: string]: unknown }

/** The image reference with another tag (the `${MENAGERIE_REGISTRY...}` part stays as rendered). */
const retag = (image: string, tag: string): string => image.replace(/:[^:/]+$/, `:${tag}`);

/** The queue the added engine's reload declared stays after its removal (by design: history); this run's own is removed. */
async function deleteAddedQueue(): Promise<void> {
  const config = JSON.parse(await readFile('/etc/menagerie/config/menagerie.json', 'utf8')) as { rabbitmq: { prefix: string } };
  const env = await readFile('/etc/menagerie/secrets/menagerie.env', 'utf8');
  const url = /^MENAGERIE_AMQP_URL=(.+)$/m.exec(env)?.[1];
  const vhost = url ? decodeURIComponent(new URL(url).pathname.slice(1)) || '/' : '/';
  await run('rabbitmqctl', ['delete_queue', '-p', vhost, names(config.rabbitmq.prefix).queue(ADDED)]);
}

/** Engine version management on the provisioned appliance (registered by appliance.test.ts after provisioning). */
export function engineVersionChecks(): void {
  describe('e2e: engine versions on the provisioned appliance (engines.json + menagerie engines reload)', function () {
    this.timeout(900_000);
    let original = '';
    let engines: Entry[] = [];
    let registry = '';
    let auth: Record<string, string> = {};
    let addedJob = '';

    const write = (list: Entry[]): Promise<void> => writeFile(ENGINES, `${JSON.stringify({ engines: list }, null, 2)}\n`);
    const md5 = (): Entry => engines.find((e) => e.name === 'md5') as Entry;
    const reload = () => run(CLI, ['engines', 'reload'], { timeoutMs: 900_000 });
    const uploadTo = async (engine: string, body: string): Promise<{ status: number; json: any }> => {
      const form = new FormData();
      form.append('upload', new Blob([body]), 'sample.bin');
      const res = await fetch(`${api}/${engine}/upload?force=1`, { method: 'POST', body: form, headers: auth });
      return { status: res.status, json: await res.json() };
    };
    const record = async (id: string): Promise<any> => (await fetch(`${api}/api/v1/jobs/${id}`, { headers: auth })).json();
    const done = async (id: string): Promise<any> => {
      const until = Date.now() + 120_000;
      for (;;) {
        const r = await record(id);
        if (r.status === 'Success' || r.status === 'Fail' || Date.now() > until) return r;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    };
    const md5Of = async (engine: string): Promise<any> => {
      const up = await uploadTo(engine, 'hello\n');
      expect(up.status, JSON.stringify(up.json)).to.equal(200);
      const job = await done(up.json.jobid);
      expect(job, JSON.stringify(job)).to.include({ status: 'Success', engine });
      expect(await (await fetch(`${api}/api/v1/jobs/${job.jobid}/result`, { headers: auth })).text()).to.equal('b1946ac92492d2347c6235b4d2611184\n');
      return job;
    };

    before(async () => {
      auth = applianceAuth();
      original = await readFile(ENGINES, 'utf8');
      engines = (JSON.parse(original) as { engines: Entry[] }).engines;
      const env = await readFile('/etc/menagerie/secrets/menagerie.env', 'utf8');
      registry = /^MENAGERIE_REGISTRY=(.+)$/m.exec(env)?.[1] ?? '';
      expect(registry, 'MENAGERIE_REGISTRY in menagerie.env').to.not.equal('');
      expect(md5().image).to.match(/\/md5:[^/]+$/);
      // The "new version": the md5 image under a tag of its own, pushed to the appliance's
      // registry (the host's Docker is logged in to it) and then untagged on the host, so that
      // only a pull by menage, through docker-proxy with its credentials, brings it back.
      const current = md5().image.replace(/^\$\{MENAGERIE_REGISTRY[^}]*\}/, registry);
      await ok('docker', ['tag', current, `${registry}/md5:${TAG}`]);
      await ok('docker', ['push', '-q', `${registry}/md5:${TAG}`], { timeoutMs: 300_000 });
      await ok('docker', ['rmi', `${registry}/md5:${TAG}`]);
    });

    after(async () => {
      if (!original) return;
      await writeFile(ENGINES, original);
      const r = await reload();
      await run('docker', ['rmi', `${registry}/md5:${TAG}`, `${registry}/md5:${TAG}-bad`]);
      await deleteAddedQueue();
      expect(r.code, `restoring engines.json: ${r.stdout}${r.stderr}`).to.equal(0);
    });

    it('a new version tag in the registry: `menagerie engines reload` makes menage pull it, and uploads run on it (the containment report names it)', async () => {
      const image = `${registry}/md5:${TAG}`;
      expect((await run('docker', ['image', 'inspect', image])).code, 'the new version is not on the host before the reload').to.not.equal(0);
      const listed = await ok(CLI, ['engines', 'list']);
      await write(engines.map((e) => (e.name === 'md5' ? { ...e, image: retag(e.image, TAG) } : e)));
      const r = await reload();
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/menage: .*engines reloaded: .*~md5 \(.*-> .*md5:apptest-pull/);
      // Pulled by the reload: through docker-proxy, which added the registry credentials.
      await ok('docker', ['image', 'inspect', image]);
      const proxyLog = await ok('bash', ['-c', 'docker logs --since 15m "$(docker-compose -p menagerie -f /opt/menagerie/compose/docker-compose.yml ps -q docker-proxy)" 2>&1']);
      expect(proxyLog.stdout + proxyLog.stderr).to.include(`docker-proxy: pulling ${image}`);
      const job = await md5Of('md5');
      expect(job.containment.image).to.equal(image);
      // `menagerie engines list` shows the pinned tag and that it is pulled.
      const after = await ok(CLI, ['engines', 'list']);
      const row = after.stdout.split('\n').find((l) => /^md5\s/.test(l)) ?? '';
      expect(row, `${listed.stdout}\n---\n${after.stdout}`).to.include(TAG).and.match(/\byes\b/);
    });

    it('`menagerie engine test md5` on the host runs the conformance kit through docker-proxy and passes', async () => {
      const r = await run(CLI, ['engine', 'test', 'md5'], { timeoutMs: 600_000 });
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(/md5 .*passed/);
    });

    it('warm set by reload: md5\'s pool fills through docker-proxy, a job runs in a pooled container, warm 0 removes the waiting ones', async () => {
      const pinned = (warm: number): Entry[] => engines.map((e) => (e.name === 'md5' ? { ...e, image: retag(e.image, TAG), warm } : e));
      const waiting = async (): Promise<string[]> => (await ok('docker', ['ps', '-aq', '--filter', 'label=org.menagerie.role=pool',
        '--filter', 'label=org.menagerie.engine=md5', '--filter', 'status=created'])).stdout.split('\n').filter(Boolean);
      const until = async (what: string, test: () => Promise<boolean>): Promise<void> => {
        for (const end = Date.now() + 60_000; !(await test());) {
          if (Date.now() > end) throw new Error(`waited 60 s for ${what}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      };
      await write(pinned(2));
      const r = await reload();
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      await until('two waiting pool containers', async () => (await waiting()).length === 2);
      const job = await md5Of('md5');
      expect(job.containment, JSON.stringify(job.containment)).to.include({ pooled: true, readonlyRootfs: true, network: 'none', userns: 'remapped' });
      await write(pinned(0));
      const back = await reload();
      expect(back.code, back.stdout + back.stderr).to.equal(0);
      await until('no waiting pool container', async () => (await waiting()).length === 0);
      expect((await md5Of('md5')).containment.pooled).to.equal(false);
    });

    it('an engine added by reload takes uploads once it passed its kit', async () => {
      const refused = await uploadTo(ADDED, 'x');
      expect(refused.status).to.equal(404);
      await write([...engines.map((e) => (e.name === 'md5' ? { ...e, image: retag(e.image, TAG) } : e)), { ...md5(), name: ADDED, image: retag(md5().image, TAG), workers: 1 }]);
      const r = await reload();
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.include(`+${ADDED}`);
      addedJob = (await md5Of(ADDED)).jobid;
    });

    it('a removed engine answers 404 UNKNOWN_ENGINE and keeps its history', async () => {
      await write(engines.map((e) => (e.name === 'md5' ? { ...e, image: retag(e.image, TAG) } : e)));
      const r = await reload();
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.include(`-${ADDED}`);
      const refused = await uploadTo(ADDED, 'x');
      expect(refused.status).to.equal(404);
      expect(refused.json.error.code).to.equal('UNKNOWN_ENGINE');
      const old = await record(addedJob);
      expect(old).to.include({ jobid: addedJob, engine: ADDED, status: 'Success' });
      expect(await (await fetch(`${api}/api/v1/jobs/${addedJob}/result`, { headers: auth })).text()).to.equal('b1946ac92492d2347c6235b4d2611184\n');
    });

    it('a version that fails its conformance kit is refused, and the previous version keeps serving', async () => {
      await ok('docker', ['tag', `${registry}/md5:${TAG}`, `${registry}/md5:${TAG}-bad`]);
      // The same image under a new tag, started so that it fails without a word: every golden case fails.
      await write(engines.map((e) => (e.name === 'md5' ? { ...e, image: retag(e.image, `${TAG}-bad`), cmd: ['/bin/false'] } : e)));
      const r = await reload();
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      expect(r.stdout + r.stderr).to.match(/engines reload refused, nothing changed: .*engine "md5" .* failed its conformance kit/s);
      const job = await md5Of('md5');
      expect(job.containment.image).to.equal(`${registry}/md5:${TAG}`);
    });
  });
}

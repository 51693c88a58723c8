import { expect } from 'chai';
import type Docker from 'dockerode';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../../../src/engines/engines.js';
import { LABELS } from '../../../src/contract/labels.js';
import { buildContainerSpec } from '../../../src/menage/container-spec.js';
import { checkDaemon } from '../../../src/menage/daemon-check.js';
import { OrphanSweeper } from '../../../src/menage/orphans.js';
import { removeContainer } from '../../../src/menage/container-removal.js';
import type { Containment } from '../../../src/menage/containment-report.js';
import { labelFinder, WarmPool } from '../../../src/menage/warm-pool.js';
import { leftovers, raw, runJob, startProxyEnv, type ProxyEnv } from './helpers.js';
import { memoryLog } from '../../support/log.js';

const BUSYBOX = 'menagerie/busybox:latest';

describe('docker-proxy: menage reaches Docker only through the filter', function () {
  this.timeout(120_000);
  let env: ProxyEnv;
  /** A container of someone else on the same daemon (no deployment label), made through the raw socket. */
  let foreign: Docker.Container;

  const engine = (name: string): Engine => env.config.engines.find((e) => e.name === name)!;
  const spec = (name = 'copy', deployment = env.deployment): Docker.ContainerCreateOptions =>
    buildContainerSpec(engine(name), { deployment, jobId: '1', attempt: 1, node: 'proxy-test', deadline: Date.now() + 60_000 });
  const withHost = (extra: Record<string, unknown>, base = spec()): Docker.ContainerCreateOptions => ({ ...base, HostConfig: { ...base.HostConfig, ...extra } });
  const refusal = async (p: Promise<unknown>): Promise<{ statusCode?: number; message: string }> => {
    const err = await p.then(() => undefined, (e: { statusCode?: number; message: string }) => e);
    expect(err, 'the request was let through').to.not.equal(undefined);
    return err!;
  };

  before(async () => {
    env = await startProxyEnv();
    foreign = await env.direct.createContainer({ Image: BUSYBOX, Cmd: ['sleep', '300'], Labels: { 'org.menagerie.test': 'foreign' }, HostConfig: { NetworkMode: 'none' } });
    await foreign.start();
  });
  after(async () => {
    await foreign?.remove({ force: true }).catch(() => undefined);
    await env?.close();
  });
  afterEach(async () => {
    expect(await leftovers(env.direct, env.deployment)).to.deep.equal([]);
  });

  describe('engine jobs still run end to end', () => {
    const run = (name: string, input: string): ReturnType<typeof runJob> => runJob(env, name, input);

    it('runs a job (create, archive in, attach, start, wait, inspect, image inspect, events, archive out, remove)', async () => {
      const done = await run('copy', 'hello through the proxy');
      expect(done.ok, done.detail).to.equal(true);
      expect(done.result).to.equal('hello through the proxy');
      expect(done.containment).to.include({ network: 'none', privileged: false, readonlyRootfs: true });
      expect(done.containment.repoDigests).to.be.an('array');
    });

    it('runs a job with a size-capped volume (volume create, holder container, volume remove)', async () => {
      const done = await run('capped', 'capped input');
      expect(done.ok, done.detail).to.equal(true);
      expect(done.result).to.equal('capped input');
    });

    it('relays a hijacked attach (HTTP upgrade)', async () => {
      const c = await env.viaProxy.createContainer(spec('echo'));
      try {
        const stream = (await c.attach({ hijack: true, stream: true, stdout: true, stderr: true })) as unknown as Readable;
        let out = '';
        const sink = new Writable({ write: (chunk: Buffer, _e, next) => ((out += chunk.toString()), next()) });
        c.modem.demuxStream(stream, sink, sink);
        const ended = new Promise((resolve) => stream.on('end', resolve).on('close', resolve));
        await c.start();
        await c.wait();
        await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))]);
        expect(out).to.contain('through-the-upgrade');
      } finally {
        await c.remove({ force: true, v: true });
      }
    });

    it('menage\'s start-up checks and its orphan sweeper work through it', async () => {
      const daemon = await checkDaemon(env.viaProxy, env.config.engines, env.config.enginesFile);
      expect(daemon.problems).to.deep.equal([]);
      const overdue = buildContainerSpec(engine('sleeper'), { deployment: env.deployment, jobId: '9', attempt: 1, node: 'proxy-test', deadline: 1 });
      const c = await env.viaProxy.createContainer(overdue);
      await c.start();
      const lines: string[] = [];
      const sweeper = new OrphanSweeper({ docker: env.viaProxy, deployment: env.deployment, lookup: async () => undefined, log: memoryLog(lines) });
      const report = await sweeper.sweep();
      await sweeper.close();
      expect(report.killed).to.deep.equal([c.id]);
      expect(env.logs.filter((l) => l.includes('refused'))).to.deep.equal([]);
    });

    it('a warm pool\'s create whose answer was lost is found by its token and removed through it', async () => {
      const lines: string[] = [];
      let lose = true;
      const removed: string[] = [];
      const pool = new WarmPool({
        deployment: env.deployment, node: 'proxy-test', graceMs: 1000, log: memoryLog(lines, 'menage'),
        create: async (s) => {
          const c = await env.viaProxy.createContainer(s);
          if (!lose) return c;
          lose = false;
          throw new Error('socket hang up'); // Docker made it; menage never heard
        },
        describe: async () => ({}) as Containment,
        remove: (c) => void removeContainer(c).then((gone) => gone && removed.push(c.id)),
        find: labelFinder(env.viaProxy, env.deployment),
      });
      try {
        const e: Engine = { ...engine('copy'), warm: 1 };
        pool.prepare(e);
        const pooled = { all: true, filters: { label: [`${LABELS.deployment}=${env.deployment}`, `${LABELS.role}=pool`] } };
        for (const until = Date.now() + 10_000; (await env.direct.listContainers(pooled)).length < 1 || lose;) {
          if (Date.now() > until) throw new Error('the lost create never happened');
          await sleep(100);
        }
        const [lost] = await env.direct.listContainers(pooled);
        pool.prepare(e); // the next create gets its answer: the lost one is looked up and removed
        for (const until = Date.now() + 10_000; !removed.includes(lost!.Id);) {
          if (Date.now() > until) throw new Error(`the lost container was not removed: ${lines.join('\n')}`);
          await sleep(100);
        }
        expect(pool.readyCount('copy'), 'the pool\'s own container stays').to.equal(1);
        expect(env.logs.filter((l) => l.includes('refused')), 'refused by the proxy').to.deep.equal([]);
      } finally {
        pool.close();
        for (const until = Date.now() + 10_000; (await leftovers(env.direct, env.deployment)).length > 0 && Date.now() < until;) await sleep(200);
      }
    });

    it('lists only this deployment, and answers 404 for a container that is gone', async () => {
      const filters = { label: [`${LABELS.deployment}=${env.deployment}`] };
      expect(await env.viaProxy.listContainers({ all: true, filters })).to.deep.equal([]);
      const err = await refusal(env.viaProxy.getContainer('f'.repeat(64)).remove({ force: true }));
      expect(err.statusCode).to.equal(404);
    });
  });

  describe('refused: what menage never does', () => {
    const refused = async (p: Promise<unknown>, pattern: RegExp): Promise<void> => {
      const err = await refusal(p);
      expect(err.statusCode, err.message).to.equal(403);
      expect(err.message).to.match(pattern);
    };

    it('a privileged container', () => refused(env.viaProxy.createContainer(withHost({ Privileged: true })), /Privileged must be false/));
    it('a host bind (Binds)', () => refused(env.viaProxy.createContainer(withHost({ Binds: ['/:/host'] })), /Binds/));
    it('a host bind (Mounts)', () => refused(env.viaProxy.createContainer(withHost({ Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] })), /Mounts/));
    it('a "volume" that binds a host path', () => refused(env.viaProxy.createContainer(withHost({
      Mounts: [{ Type: 'volume', Source: '', Target: '/data', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }],
    })), /Options/));
    it('a volume create that binds a host path', () => refused(env.viaProxy.createVolume({
      Name: 'menagerie-proxy-test', Driver: 'local', Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: env.deployment },
      DriverOpts: { type: 'none', o: 'bind', device: '/' },
    } as Docker.VolumeCreateOptions), /DriverOpts/));
    it('devices, host namespaces, capabilities, a network', async () => {
      await refused(env.viaProxy.createContainer(withHost({ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] })), /Devices/);
      await refused(env.viaProxy.createContainer(withHost({ PidMode: 'host' })), /PidMode/);
      await refused(env.viaProxy.createContainer(withHost({ UsernsMode: 'host' })), /UsernsMode/);
      await refused(env.viaProxy.createContainer(withHost({ CapAdd: ['SYS_ADMIN'] })), /CapAdd/);
      await refused(env.viaProxy.createContainer(withHost({ NetworkMode: 'host' })), /NetworkMode/);
      await refused(env.viaProxy.createContainer(withHost({ SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] })), /security option/);
    });
    it('a container without this deployment\'s labels', async () => {
      await refused(env.viaProxy.createContainer({ ...spec(), Labels: {} }), /org\.menagerie\.deployment/);
      await refused(env.viaProxy.createContainer(spec('copy', 'another-deployment')), /org\.menagerie\.deployment/);
    });
    it('an image that is not one of the engines\'', () => refused(env.viaProxy.createContainer({ ...spec(), Image: 'menagerie-test/hostile:latest' }), /image/));
    it('a command, user or working directory no engine of that image has', async () => {
      await refused(env.viaProxy.createContainer({ ...spec(), Cmd: ['/bin/sh', '-c', 'cat /etc/shadow'] }), /command/);
      await refused(env.viaProxy.createContainer({ ...spec(), User: '0:0' }), /user/);
      await refused(env.viaProxy.createContainer({ ...spec(), WorkingDir: '/etc' }), /working directory/);
    });
    it('a container that breaks the engine policy rules', () => refused(env.viaProxy.createContainer(withHost({ Memory: 0, MemorySwap: 0 })), /memory-limit/));
    it('exec, even in its own container', async () => {
      const c = await env.viaProxy.createContainer(spec());
      try {
        await refused(c.exec({ Cmd: ['sh'], AttachStdout: true }), /not an endpoint menage uses/);
      } finally {
        await c.remove({ force: true, v: true });
      }
    });
    it('another container\'s files, logs, state, and its removal', async () => {
      const other = env.viaProxy.getContainer(foreign.id);
      await refused(other.getArchive({ path: '/etc/passwd' }), /not this deployment's/);
      await refused(other.infoArchive({ path: '/etc/passwd' }), /403|not this deployment's/);
      await refused(other.putArchive(Readable.from([Buffer.alloc(1024)]), { path: '/tmp' }), /not this deployment's/);
      await refused(other.logs({ stdout: true, follow: false }) as Promise<unknown>, /not an endpoint menage uses/);
      await refused(other.inspect(), /not this deployment's/);
      await refused(other.kill(), /not this deployment's/);
      await refused(other.remove({ force: true }), /not this deployment's/);
      // By a prefix of its id, too: resolved by the daemon, judged on what it resolves to.
      await refused(env.viaProxy.getContainer(foreign.id.slice(0, 12)).inspect(), /not this deployment's/);
      expect((await foreign.inspect()).State.Running).to.equal(true);
    });
    it('lists and events that are not narrowed to this deployment', async () => {
      await refused(env.viaProxy.listContainers({ all: true }), /filtered by label/);
      await refused(env.viaProxy.listContainers({ filters: { label: ['org.menagerie.deployment=another'] } }), /filtered by label/);
      await refused(env.viaProxy.listVolumes(), /filtered by label/);
      await refused(env.viaProxy.getEvents({ filters: { container: [foreign.id] } }), /not this deployment's/);
      await refused(env.viaProxy.getEvents({ filters: { container: [foreign.id.slice(0, 1)] } }), /filtered by label/);
    });
    it('everything else: images, networks, swarm, build, system', async () => {
      for (const [method, path] of [['GET', '/images/json'], ['POST', '/images/create?fromImage=alpine'], ['POST', '/networks/create'], ['GET', '/containers/' + foreign.id + '/logs'],
        ['POST', '/build'], ['POST', '/containers/prune'], ['GET', '/swarm'], ['POST', '/session'], ['DELETE', '/images/' + BUSYBOX], ['POST', '/containers/' + foreign.id + '/update'],
        ['GET', '/v1.41/plugins'], ['POST', '/v1.41/containers/create?name=x']] as const) {
        const res = await raw(env.proxy.url, method, path, method === 'POST' ? '{}' : undefined);
        expect(res.status, `${method} ${path}`).to.equal(403);
        expect(res.json.error.code, `${method} ${path}`).to.equal('DOCKER_API_REFUSED');
      }
    });
  });

  describe('refused: what Docker would read differently from a naive filter', () => {
    const body = (host: string, top = ''): string => {
      const s = JSON.stringify(spec());
      const withTop = top ? s.replace(/^\{/, `{${top},`) : s;
      return withTop.replace('"HostConfig":{', `"HostConfig":{${host},`);
    };

    it('(control) Docker itself reads these tricks as host binds: a filter that reads keys exactly would be fooled', async () => {
      const labels = { [LABELS.managed]: 'true', [LABELS.deployment]: env.deployment };
      const tricks: Record<string, unknown>[] = [
        { Image: BUSYBOX, Cmd: ['true'], Labels: labels, HostConfig: { NetworkMode: 'none', ['Bind\u017f']: ['/tmp:/h'] } }, // ſ folds to s
        { Image: BUSYBOX, Cmd: ['true'], Labels: labels, Binds: ['/tmp:/h'] }, // no HostConfig: root-level HostConfig fields count
      ];
      for (const body of tricks) {
        const c = await env.direct.createContainer(body as Docker.ContainerCreateOptions);
        try {
          expect((await c.inspect()).HostConfig.Binds).to.deep.equal(['/tmp:/h']);
        } finally {
          await c.remove({ force: true });
        }
        const res = await raw(env.proxy.url, 'POST', '/containers/create', JSON.stringify(body));
        expect(res.status, JSON.stringify(body)).to.equal(403);
      }
      const dup = `{"Image":"${BUSYBOX}","Cmd":["true"],"Labels":${JSON.stringify(labels)},"HostConfig":{"NetworkMode":"none"},"hostconfig":{"Binds":["/tmp:/h"]}}`;
      expect((await raw(env.proxy.url, 'POST', '/containers/create', dup)).status).to.equal(403);
    });

    it('keys differing only in case, duplicate keys, Unicode look-alikes, a lower-case field alone', async () => {
      const bodies = [
        body('"privileged":true'), // Privileged is in the body too: Go would take the later one
        body('"Privileged":true'), // an exact duplicate: Go takes the last
        body('"Bindſ":["/:/host"]'), // Go's decoder folds ſ to s: this would be Binds
        body('"securityopt":["seccomp=unconfined"]'),
      ];
      for (const b of bodies) {
        const res = await raw(env.proxy.url, 'POST', '/containers/create', b);
        expect(res.status, b.slice(0, 120)).to.equal(403);
        expect(res.json.message).to.match(/ambiguous body/);
      }
      const alone = JSON.stringify(spec()).replace('"Privileged":false', '"privileged":true');
      const res = await raw(env.proxy.url, 'POST', '/containers/create', alone);
      expect(res.status).to.equal(403);
      expect(res.json.message).to.match(/"privileged" is not allowed/);
    });

    it('a body that is not one JSON value, or too large', async () => {
      expect((await raw(env.proxy.url, 'POST', '/containers/create', `${JSON.stringify(spec())}{"HostConfig":{"Privileged":true}}`)).status).to.equal(400);
      expect((await raw(env.proxy.url, 'POST', '/containers/create', JSON.stringify({ ...spec(), Cmd: ['x'.repeat(5 * 1024 * 1024)] }))).status).to.equal(413);
    });

    it('encoded, dotted, doubled and case-changed paths', async () => {
      const id = foreign.id;
      const ours = await env.viaProxy.createContainer(spec());
      try {
        for (const path of [`/containers/${ours.id}/..%2F${id}/archive?path=/etc/passwd`, `/containers/${ours.id}%2F..%2F${id}/json`, `/containers/${ours.id}/../${id}/json`,
          `/containers//${id}/json`, `/containers/${ours.id}/./json`, `/containers/%2e%2e/${id}/json`, `/v1.41/containers/${ours.id}/exec%00`, `/containers/${ours.id}/json/`,
          `/containers/${ours.id}\\json`, `/v1.12/containers/${ours.id}/start`, `/containers/${ours.id}/json;x=y`]) {
          const res = await raw(env.proxy.url, 'GET', path);
          expect(res.status, path).to.equal(400);
        }
        for (const path of [`/CONTAINERS/${ours.id}/json`, `/containers/${ours.id}/JSON`, `/v1.41/Containers/${ours.id}/json`]) {
          expect((await raw(env.proxy.url, 'GET', path)).status, path).to.equal(403);
        }
        expect((await raw(env.proxy.url, 'GET', `/v1.41/containers/${ours.id}/json`)).status).to.equal(200);
      } finally {
        await ours.remove({ force: true, v: true });
      }
    });

    it('query parameters given twice, or ones menage never sends', async () => {
      const filters = encodeURIComponent(JSON.stringify({ label: [`${LABELS.deployment}=${env.deployment}`] }));
      const other = encodeURIComponent(JSON.stringify({ label: ['org.menagerie.deployment=another'] }));
      expect((await raw(env.proxy.url, 'GET', `/containers/json?filters=${filters}&filters=${other}`)).status).to.equal(400);
      expect((await raw(env.proxy.url, 'GET', `/containers/json?filters=${filters}`)).status).to.equal(200);
      const dup = encodeURIComponent(`{"label":["${LABELS.deployment}=${env.deployment}"],"label":[]}`);
      expect((await raw(env.proxy.url, 'GET', `/containers/json?filters=${dup}`)).status).to.equal(400);
      expect((await raw(env.proxy.url, 'POST', `/containers/create?name=sneaky`, JSON.stringify(spec()))).status).to.equal(403);
    });
  });
});


import { expect } from 'chai';
import { connect } from 'amqplib';
import Docker from 'dockerode';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../../src/config/config.js';
import { startDockerProxy, type DockerProxy } from '../../../src/docker-proxy.js';
import { loadEngines } from '../../../src/engines/engines.js';
import { startMenage } from '../../../src/menage.js';
import { names } from '../../../src/queue/topology.js';
import { testEngine } from '../../support/services.js';
import { startStack, upload, waitDone, type Stack } from '../../support/stack.js';
import { raw } from './helpers.js';
import { memoryLog } from '../../support/log.js';

// "A reload makes menage pull the image" (docs/engines.md): menage reaches Docker only through
// the proxy, which forwards a pull of exactly an engine's image reference and adds the registry
// credentials itself (menage holds none). A private registry (Debian's docker-registry, with
// bcrypt htpasswd auth) on a loopback port holds the new version; the host's Docker does not.

const direct = new Docker();
const MiB = 1024 * 1024;
const USER = 'menagerie-pull';
const PASSWORD = randomBytes(12).toString('hex');
const md5 = (name: string, image = 'menagerie/md5:1.0.0'): Record<string, unknown> =>
  testEngine(name, { image, cmd: '/engine/run', workers: 1, sizelimit: MiB, memory: '64m', pids: 32 });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Debian's registry on a loopback port (Docker treats 127.0.0.0/8 as an insecure registry), htpasswd auth. */
async function startRegistry(dir: string, port: number): Promise<ChildProcess> {
  const hash = execFileSync('/usr/bin/python3', ['-c', 'import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(6)).decode())', PASSWORD]).toString().trim();
  await writeFile(join(dir, 'htpasswd'), `${USER}:${hash}\n`);
  await writeFile(join(dir, 'registry.yml'), [
    'version: 0.1', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, 'http:', `  addr: 127.0.0.1:${port}`,
    'auth:', '  htpasswd:', '    realm: menagerie-test', `    path: ${join(dir, 'htpasswd')}`, '',
  ].join('\n'));
  const child = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'registry.yml')], { stdio: 'ignore' });
  child.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0);
    if (status === 401) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error('/usr/bin/docker-registry did not start (package docker-registry; test/run installs it)');
}

describe('docker-proxy: a reload pulls a new engine version through the proxy, with the proxy\'s credentials', function () {
  this.timeout(5 * 60_000);
  let dir: string;
  let registry: ChildProcess | undefined;
  let ref: string;
  let stack: Stack;
  let proxy: DockerProxy | undefined;
  const proxyLogs: string[] = [];
  const write = (engines: unknown[]): Promise<void> => writeFile(stack.env.config.enginesFile, JSON.stringify({ engines }));
  const server = (): string => ref.slice(0, ref.indexOf('/'));
  const withProxy = async (auth: boolean): Promise<Config> => {
    await proxy?.close();
    const c = stack.env.config;
    const registryAuth = auth ? { serveraddress: server(), username: USER, password: PASSWORD } : undefined;
    proxy = await startDockerProxy({ ...c, dockerProxy: { ...c.dockerProxy, ...(registryAuth ? { registryAuth } : {}) } }, memoryLog(proxyLogs, 'docker-proxy'),
      { listen: { host: '127.0.0.1', port: 0 }, socketPath: '/var/run/docker.sock' });
    return { ...c, menage: { ...c.menage, frontendUrl: stack.internalUrl, dockerSocket: proxy.url.replace(/^http:/, 'tcp:') } };
  };
  const dropLocal = () => direct.getImage(ref).remove().catch(() => undefined);
  const present = () => direct.getImage(ref).inspect().then(() => true, () => false);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-pull-'));
    const port = await freePort();
    registry = await startRegistry(dir, port);
    ref = `127.0.0.1:${port}/menagerie-test/md5:pull-${process.pid}`;
    // The "new version" goes to the registry, then leaves the host's Docker: only a pull brings it back.
    await direct.getImage('menagerie/md5:1.0.0').tag({ repo: ref.slice(0, ref.lastIndexOf(':')), tag: ref.slice(ref.lastIndexOf(':') + 1) });
    const pushed = await direct.getImage(ref).push({ authconfig: { username: USER, password: PASSWORD, serveraddress: server() } });
    const events = await new Promise<{ error?: string }[]>((resolve, reject) => direct.modem.followProgress(pushed, (err: Error | null, out: { error?: string }[]) => (err ? reject(err) : resolve(out))));
    expect(events.filter((e) => e.error), 'push to the test registry').to.deep.equal([]);
    await dropLocal();
    expect(await present()).to.equal(false);
    stack = await startStack([md5('md5')], { menage: false });
    stack.menage = await startMenage(await withProxy(false), memoryLog(stack.logs, 'menage'), { node: stack.node });
  });
  after(async () => {
    if (stack) {
      const conn = await connect(stack.env.config.rabbitmq.url);
      const ch = await conn.createChannel();
      await ch.deleteQueue(names(stack.env.config.rabbitmq.prefix).queue('pulled')).catch(() => undefined);
      await conn.close().catch(() => undefined);
      await stack.close();
    }
    await proxy?.close();
    await dropLocal();
    registry?.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the proxy refuses a pull of anything but an engine\'s exact reference, and never forwards the client\'s credentials', async () => {
    await write([md5('md5'), md5('pulled', ref)]);
    await proxy!.reload();
    const repo = ref.slice(0, ref.lastIndexOf(':'));
    const q = (query: string) => raw(proxy!.url, 'POST', `/images/create?${query}`, undefined, { 'x-registry-auth': 'client-supplied' });
    for (const query of [`fromImage=${encodeURIComponent(repo)}&tag=other`, `fromImage=${encodeURIComponent(repo)}`,
      `fromImage=${encodeURIComponent(ref)}&tag=latest`, `fromSrc=-&repo=${encodeURIComponent(repo)}&tag=x`, 'fromImage=debian&tag=bookworm']) {
      const r = await q(query);
      expect(r.status, `${query}: ${r.text}`).to.equal(403);
      expect(r.json.error.code).to.equal('DOCKER_API_REFUSED');
    }
    expect(await present()).to.equal(false);
  });

  it('without the proxy holding credentials the registry refuses the pull: the reload is refused naming the image, nothing changes', async () => {
    const err = await stack.menage!.reload().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(new RegExp(`engine "pulled": image ${ref.replace(/[.]/g, '\\.')} is not present and could not be pulled: .*(no basic auth credentials|unauthorized|authentication required)`, 's'));
    expect(stack.menage!.consumers.length).to.equal(1);
    expect(await present()).to.equal(false);
  });

  it('with the proxy\'s credentials a reload pulls the new version, passes its kit and the engine takes uploads', async () => {
    await stack.menage!.close(2000);
    const config = await withProxy(true);
    await write([md5('md5')]);
    stack.menage = await startMenage(config, memoryLog(stack.logs, 'menage'), { node: stack.node });
    await write([md5('md5'), md5('pulled', ref)]);
    await proxy!.reload();
    const before = stack.logs.length;
    const proxyBefore = proxyLogs.length;
    await stack.menage.reload();
    await stack.frontend.reload();
    expect(stack.logs.slice(before).join('\n')).to.include(`pulling ${ref}: the Docker engine does not have it`).and.include(`pulled ${ref}`);
    expect(proxyLogs.slice(proxyBefore).join('\n')).to.include(`docker-proxy: pulling ${ref}`);
    expect(proxyLogs.slice(proxyBefore).filter((l) => l.includes('refused'))).to.deep.equal([]);
    expect(await present()).to.equal(true);
    const { status, json } = await upload(stack.url, 'pulled', 'hello\n');
    expect(status, JSON.stringify(json)).to.equal(200);
    const done = await waitDone(stack.url, json.jobid, 60_000);
    expect(done.status, done.summary).to.equal('Success');
    const record = await (await fetch(`${stack.url}/api/v1/jobs/${json.jobid}`)).json() as { containment: { image: string } };
    expect(record.containment.image).to.equal(ref);
  });

  it('menage pulls a missing engine image when it starts (a worker node\'s first start)', async () => {
    await stack.menage!.close(2000);
    await dropLocal();
    const c = await withProxy(true);
    await proxy!.reload();
    const engines = loadEngines(stack.env.config.enginesFile, {}, []);
    const before = stack.logs.length;
    stack.menage = await startMenage({ ...c, engines }, memoryLog(stack.logs, 'menage'), { node: stack.node });
    expect(stack.logs.slice(before).join('\n')).to.include(`pulled ${ref}`);
    expect(await present()).to.equal(true);
  });
});

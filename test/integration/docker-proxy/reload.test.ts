import { expect } from 'chai';
import { connect } from 'amqplib';
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kitDeployment, LABELS } from '../../../src/contract/labels.js';
import { startDockerProxy, type DockerProxy } from '../../../src/docker-proxy.js';
import { startMenage } from '../../../src/menage.js';
import { names } from '../../../src/queue/topology.js';
import { testEngine } from '../../support/services.js';
import { startStack, upload, waitDone, type Stack } from '../../support/stack.js';
import { leftovers, raw } from './helpers.js';
import { memoryLog } from '../../support/log.js';

const run = promisify(execFile);
const direct = new Docker();
const MiB = 1024 * 1024;
const md5 = (name: string, image = 'menagerie/md5:1.0.0'): Record<string, unknown> =>
  testEngine(name, { image, cmd: '/engine/run', workers: 1, sizelimit: MiB, memory: '64m', pids: 32 });
const NEXT = { repo: 'menagerie-test/md5', tag: `proxy-reload-${process.pid}` };
const next = `${NEXT.repo}:${NEXT.tag}`;
const RULES = `mt-rules-${process.pid}-${randomBytes(3).toString('hex')}`;
const yara = testEngine('yara', {
  image: 'menagerie/yara:1.0.0', cmd: ['/engine/run', '50'], workers: 1, sizelimit: MiB, timeout: 60, memory: '256m', pids: 64,
  volumes: { '/rules': RULES },
});

/** What an operator runs to replace the rules in the volume (docs/engines.md), with the docker CLI. */
async function putRules(deployment: string, rules: Record<string, string>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'menagerie-rules-'));
  try {
    // Readable by the remapped container root (userns-remap): mkdtemp makes it 0700.
    await chmod(dir, 0o755);
    for (const [name, text] of Object.entries(rules)) await writeFile(join(dir, name), text, { mode: 0o644 });
    await run('docker', ['volume', 'create', '--label', `${LABELS.engineData}=${deployment}`, RULES]);
    await run('docker', ['run', '--rm', '--network', 'none', '-v', `${RULES}:/rules`, '-v', `${dir}:/new:ro`, 'menagerie/busybox:latest',
      'sh', '-c', 'rm -f /rules/*.yar && cp /new/*.yar /rules/ && chmod 644 /rules/*.yar']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rule = (name: string, marker: string): string => `rule ${name} { strings: $m = "${marker}" condition: $m }\n`;

/**
 * The appliance's shape with private processes: menage reaches Docker only through a
 * docker-proxy built from engines.json, and a reload that adds or changes engines works once
 * the proxy re-read engines.json (SIGHUP): the kit's containers (golden files out of the image,
 * the size-limit sample, every hostile case) pass it, and so do the new engines' jobs.
 */
describe('docker-proxy: engines reload through the proxy, and read-only rule volumes', function () {
  this.timeout(5 * 60_000);
  let stack: Stack;
  let proxy: DockerProxy;
  const proxyLogs: string[] = [];
  const write = (engines: unknown[]): Promise<void> => writeFile(stack.env.config.enginesFile, JSON.stringify({ engines }));
  const deployment = (): string => stack.env.config.rabbitmq.prefix;
  const resultOf = async (engine: string, body: string): Promise<{ id: string; result: string }> => {
    const { status, json } = await upload(stack.url, engine, body);
    expect(status, JSON.stringify(json)).to.equal(200);
    const done = await waitDone(stack.url, json.jobid, 60_000);
    expect(done.status, done.summary).to.equal('Success');
    return { id: json.jobid, result: await (await fetch(`${stack.url}${done.link}`)).text() };
  };

  before(async () => {
    await direct.getImage('menagerie/md5:1.0.0').tag(NEXT);
    stack = await startStack([md5('md5')], { menage: false });
    proxy = await startDockerProxy(stack.env.config, memoryLog(proxyLogs), { listen: { host: '127.0.0.1', port: 0 }, socketPath: '/var/run/docker.sock' });
    const c = stack.env.config;
    stack.menage = await startMenage({ ...c, menage: { ...c.menage, frontendUrl: stack.internalUrl, dockerSocket: proxy.url.replace(/^http:/, 'tcp:') } }, memoryLog(stack.logs), { node: stack.node });
  });
  after(async () => {
    if (stack) {
      const conn = await connect(stack.env.config.rabbitmq.url);
      const ch = await conn.createChannel();
      for (const e of ['fresh', 'yara']) await ch.deleteQueue(names(deployment()).queue(e)).catch(() => undefined);
      await conn.close().catch(() => undefined);
      await stack.close();
    }
    await proxy?.close();
    await direct.getVolume(RULES).remove().catch(() => undefined);
    await direct.getImage(next).remove().catch(() => undefined);
  });

  it('before the proxy re-reads engines.json, a reload adding an engine is refused: its image is not one the proxy allows', async () => {
    await write([md5('md5'), md5('fresh', next)]);
    const err = await stack.menage!.reload().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/engine "fresh" .* failed its conformance kit: the kit could not run: .*refused by the Docker API proxy: container create: image "menagerie-test\/md5:proxy-reload-\d+" is not one of this deployment's engine images.*has the Docker API proxy re-read engines\.json\? send it SIGHUP first/s);
    expect(stack.menage!.consumers.length).to.equal(1);
  });

  it('after proxy.reload (its SIGHUP), the kit runs through the proxy (golden files from the image, a sample of exactly the size limit) and the engine takes uploads', async () => {
    const before = proxyLogs.length;
    await proxy.reload();
    await stack.menage!.reload();
    await stack.frontend.reload();
    expect(stack.logs.join('\n')).to.match(/conformance: fresh \(menagerie-test\/md5:proxy-reload-\d+, sha256:[0-9a-f]+\): passed 8\/8/);
    expect(proxyLogs.slice(before).filter((l) => l.includes('refused'))).to.deep.equal([]);
    const { id, result } = await resultOf('fresh', 'hello\n');
    expect(result).to.equal('b1946ac92492d2347c6235b4d2611184\n');
    const record = await (await fetch(`${stack.url}/api/v1/jobs/${id}`)).json() as { containment: { image: string } };
    expect(record.containment.image).to.equal(next);
    expect([...(await leftovers(direct, kitDeployment(deployment()))), ...(await leftovers(direct, deployment()))]).to.deep.equal([]);
  });

  it('an engine whose read-only volume does not exist is refused by the reload, naming the volume', async () => {
    await write([md5('md5'), md5('fresh', next), yara]);
    await proxy.reload();
    const err = await stack.menage!.reload().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.include(`the volume ${RULES} (read-only at /rules) does not exist with the label ${LABELS.engineData}=${deployment()}`);
  });

  it('yara reads rules from its volume: replacing them takes effect on the next job, no image rebuilt', async () => {
    const before = proxyLogs.length;
    await putRules(deployment(), { 'local.yar': rule('local_alpha', 'MENAGERIE-ALPHA-7f3a') });
    await stack.menage!.reload();
    await stack.frontend.reload();
    const sample = 'one MENAGERIE-ALPHA-7f3a two MENAGERIE-BETA-19c2 three';
    const first = JSON.parse((await resultOf('yara', sample)).result) as { rules: string[]; matches: { rule: string }[] };
    expect(first.rules).to.deep.equal(['menagerie.yar', 'local.yar']);
    expect(first.matches.map((m) => m.rule)).to.deep.equal(['local_alpha']);
    await putRules(deployment(), { 'local.yar': rule('local_beta', 'MENAGERIE-BETA-19c2') });
    const second = JSON.parse((await resultOf('yara', sample)).result) as { matches: { rule: string }[] };
    expect(second.matches.map((m) => m.rule)).to.deep.equal(['local_beta']);
    expect(proxyLogs.slice(before).filter((l) => l.includes('refused'))).to.deep.equal([]);
  });

  it('the proxy lets the volume through only read-only, at its declared path, and only when labelled for this deployment', async () => {
    const body = (mount: Record<string, unknown>): string => JSON.stringify({
      Image: 'menagerie/yara:1.0.0', Cmd: ['/engine/run', '50'], User: '65534:65534', WorkingDir: '/data', NetworkDisabled: true,
      Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: deployment() },
      HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], CapAdd: [], Privileged: false, SecurityOpt: ['no-new-privileges'],
        PidsLimit: 64, Memory: 256 * MiB, MemorySwap: 256 * MiB, NanoCpus: 1e9, Mounts: [mount] },
    });
    const writable = await raw(proxy.url, 'POST', '/containers/create', body({ Type: 'volume', Source: RULES, Target: '/rules', ReadOnly: false }));
    expect(writable.status, writable.text).to.equal(403);
    const elsewhere = await raw(proxy.url, 'POST', '/containers/create', body({ Type: 'volume', Source: RULES, Target: '/engine', ReadOnly: true }));
    expect(elsewhere.status, elsewhere.text).to.equal(403);
    await run('docker', ['volume', 'create', `${RULES}-x`]);
    try {
      await write([md5('md5'), md5('fresh', next), { ...yara, volumes: { '/rules': `${RULES}-x` } }]);
      await proxy.reload();
      const unlabelled = await raw(proxy.url, 'POST', '/containers/create', body({ Type: 'volume', Source: `${RULES}-x`, Target: '/rules', ReadOnly: true }));
      expect(unlabelled.status, unlabelled.text).to.equal(403);
      expect(unlabelled.json.message).to.match(/not a plain local volume labelled org\.menagerie\.engine-data=/);
      // The earlier version stays allowed until the proxy restarts: menage may still run it
      // (its kit refused the new one, or its jobs drain).
      const earlier = await raw(proxy.url, 'POST', '/containers/create', body({ Type: 'volume', Source: RULES, Target: '/rules', ReadOnly: true }));
      expect(earlier.status, earlier.text).to.equal(201);
      await direct.getContainer(earlier.json.Id).remove({ force: true });
    } finally {
      await write([md5('md5'), md5('fresh', next), yara]);
      await proxy.reload();
      await run('docker', ['volume', 'rm', `${RULES}-x`]).catch(() => undefined);
    }
    const ok = await raw(proxy.url, 'POST', '/containers/create', body({ Type: 'volume', Source: RULES, Target: '/rules', ReadOnly: true }));
    expect(ok.status, ok.text).to.equal(201);
    await direct.getContainer(ok.json.Id).remove({ force: true });
  });
});

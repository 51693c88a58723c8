import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../../src/config/config.js';
import { startDockerProxy, type DockerProxy } from '../../../src/docker-proxy.js';
import { dockerOptions } from '../../../src/docker-proxy/endpoint.js';
import { LABELS } from '../../../src/contract/labels.js';
import { DockerRunner, type RunRequest } from '../../../src/menage/runner.js';
import { Readable } from 'node:stream';
import { testEngine, unique } from '../../support/services.js';
import { memoryLog } from '../../support/log.js';

/** A proxy started in process on a random port for a fresh deployment, and clients on both sides. */
export interface ProxyEnv {
  config: Config;
  deployment: string;
  proxy: DockerProxy;
  /** menage's client: through the proxy. */
  viaProxy: Docker;
  /** The raw socket: for setting up and checking only. */
  direct: Docker;
  logs: string[];
  close(): Promise<void>;
}

/** The test engines: a plain copy, one with a size-capped volume, one that prints, one that sleeps. */
export const ENGINES = [
  testEngine('copy'),
  testEngine('capped', { volumesize: '8m' }),
  testEngine('echo', { cmd: ['/bin/sh', '-c', 'echo through-the-upgrade'] }),
  testEngine('sleeper', { cmd: ['/engine/sleep', '60'] }),
];

/** Starts the proxy in process (no MariaDB or RabbitMQ needed: it only reads the config). */
export async function startProxyEnv(socketPath = '/var/run/docker.sock'): Promise<ProxyEnv> {
  const direct = new Docker({ socketPath });
  await direct.ping().catch((err: Error) => {
    throw new Error(`the Docker engine on ${socketPath} does not answer (${err.message}); test/run starts it`);
  });
  const dir = await mkdtemp(join(tmpdir(), 'menagerie-proxy-test-'));
  const deployment = unique('mt-');
  await writeFile(join(dir, 'engines.json'), JSON.stringify({ engines: ENGINES }));
  await writeFile(join(dir, 'config.json'), JSON.stringify({
    rabbitmq: { url: 'amqp://unused.invalid', prefix: deployment }, internalToken: randomBytes(24).toString('hex'), engines: 'engines.json',
  }));
  const config = loadConfig(join(dir, 'config.json'), {});
  const logs: string[] = [];
  const proxy = await startDockerProxy(config, memoryLog(logs), { listen: { host: '127.0.0.1', port: 0 }, socketPath });
  return {
    config, deployment, proxy, direct, logs, viaProxy: new Docker(dockerOptions(proxy.url)),
    async close() {
      await proxy.close();
      await removeLabelled(direct, deployment);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one job of an engine through the proxy with menage's own runner; what it delivered. */
export async function runJob(env: ProxyEnv, name: string, input: string): Promise<{ ok: boolean; result: string; detail?: string; containment: Record<string, unknown> }> {
  const runner = new DockerRunner(env.viaProxy, env.deployment, { graceMs: 10_000 });
  let result = '';
  const request: RunRequest = {
    jobId: '7', attempt: 1, node: 'proxy-test', signal: new AbortController().signal,
    openInput: async () => ({ stream: Readable.from([Buffer.from(input)]), size: Buffer.byteLength(input) }),
    deliver: async (body) => {
      for await (const chunk of body) result += (chunk as Buffer).toString();
    },
  };
  const before = env.logs.length;
  const outcome = await runner.run(env.config.engines.find((e) => e.name === name)!, request);
  // Nothing menage does on the way (the oom events watch included) may be refused.
  const refused = env.logs.slice(before).filter((l) => l.includes('refused'));
  if (refused.length) throw new Error(`the proxy refused part of a job: ${refused.join('; ')}`);
  return { ok: outcome.ok, result, detail: outcome.ok ? undefined : `${outcome.reason}: ${outcome.detail}`, containment: outcome.containment };
}

/** Removes every container and volume labelled with the deployment (a failed test's leftovers). */
export async function removeLabelled(direct: Docker, deployment: string): Promise<void> {
  const filters = { label: [`${LABELS.deployment}=${deployment}`] };
  for (const c of await direct.listContainers({ all: true, filters })) await direct.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  for (const v of (await direct.listVolumes({ filters })).Volumes ?? []) await direct.getVolume(v.Name).remove().catch(() => undefined);
}

/** Containers and volumes labelled with the deployment that are still there. */
export async function leftovers(direct: Docker, deployment: string): Promise<string[]> {
  const filters = { label: [`${LABELS.deployment}=${deployment}`] };
  const containers = (await direct.listContainers({ all: true, filters })).map((c) => `container ${c.Id}`);
  const volumes = ((await direct.listVolumes({ filters })).Volumes ?? []).map((v) => `volume ${v.Name}`);
  return [...containers, ...volumes];
}

/** A raw HTTP request to the proxy: the path goes out byte for byte (no client-side cleaning). */
export function raw(proxyUrl: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
  const url = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('error', reject);
      res.on('end', () => {
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

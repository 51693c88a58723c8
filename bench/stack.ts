import Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../src/engines/engines.js';
import { LABELS } from '../src/contract/labels.js';
import { freePort } from '../test/support/private-services.js';
import { CliProcess } from '../test/support/processes.js';
import { createTestEnv, testEngine, type TestEnv } from '../test/support/services.js';

/** Where a benchmark sends its requests. */
export interface Target {
  url: string;
  headers: Record<string, string>;
  /** The parsed engines (a local stack only). */
  engines: readonly Engine[];
  /** The stack's own resources (a local stack only): its database, for the read benchmark's fill. */
  env?: TestEnv;
  frontend?: CliProcess;
  menage?: CliProcess;
  /** menage's operations listener (a local stack only): its /metrics has the stage timings. */
  menageOpsUrl?: string;
  close(): Promise<void>;
}

/** The benchmarks' trivial engine: the test image's `copy` (result = input), hardened as any engine. */
export function benchEngine(name: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return testEngine(name, { timeout: 60, ...fields });
}

/**
 * A frontend and (unless told not) a menage as child processes, as the appliance runs them,
 * from dist/ on a throw-away database, queue prefix and store; `close` removes all of it,
 * containers of its deployment included.
 */
export async function startLocal(engines: unknown[], opts: { menage?: boolean; overrides?: Record<string, unknown> } = {}): Promise<Target> {
  const [port, internalPort, opsPort] = [await freePort(), await freePort(), await freePort()];
  const env = await createTestEnv(engines, {
    listen: { host: '127.0.0.1', port },
    internalListen: { host: '127.0.0.1', port: internalPort },
    menage: { frontendUrl: `http://127.0.0.1:${internalPort}`, shutdownGraceSeconds: 2, listen: { host: '127.0.0.1', port: opsPort } },
    ...opts.overrides,
  });
  const config = join(env.dir, 'config.json');
  const frontend = new CliProcess('frontend', config);
  const menage = opts.menage === false ? undefined : new CliProcess('menage', config);
  const target: Target = {
    url: `http://127.0.0.1:${port}`, headers: {}, engines: env.config.engines, env, frontend, menage, menageOpsUrl: `http://127.0.0.1:${opsPort}`,
    async close() {
      try {
        await menage?.stop();
        await frontend.stop();
        await removeDeploymentContainers(env.config.rabbitmq.prefix);
      } finally {
        await env.cleanup();
      }
    },
  };
  try {
    await frontend.start(/frontend listening/);
    if (menage) await menage.start(/menage running/, 120_000);
  } catch (err) {
    await target.close();
    throw err;
  }
  return target;
}

/** A running appliance: its URL and an API token read from a file (e.g. /etc/menagerie/token). */
export async function remoteTarget(url: string, tokenFile: string): Promise<Target> {
  const token = (await readFile(tokenFile, 'utf8')).trim();
  return { url: url.replace(/\/+$/, ''), headers: { authorization: `Bearer ${token}` }, engines: [], close: async () => undefined };
}

/** Removes whatever containers a deployment left (there should be none). */
async function removeDeploymentContainers(deployment: string): Promise<void> {
  const docker = new Docker();
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${deployment}`] } });
  for (const c of left) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
}

/**
 * CPU seconds (user + system) a process has used (/proc/PID/stat): the frontend's cost per
 * upload, steadier than the rate on a shared machine (the rate also pays for others' load).
 */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 (utime, stime), counted from after the command name (field 3 is index 0).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

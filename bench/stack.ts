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
  // Node's own flags for both children, to look inside them (NODE_OPTIONS takes no --cpu-prof):
  // MENAGERIE_BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' or '--trace-gc'.
  const nodeArgs = (process.env.MENAGERIE_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const frontend = new CliProcess('frontend', config, [], nodeArgs);
  const menage = opts.menage === false ? undefined : new CliProcess('menage', config, [], nodeArgs);
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

/** The machine's busy CPU seconds (all cores, /proc/stat: everything but idle and iowait). */
export async function machineCpuSeconds(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = f.reduce((s, x) => s + x, 0) - (f[3] ?? 0) - (f[4] ?? 0);
  return busy / 100;
}

/** CPU seconds per process group of interest, and the machine's, at one moment. */
export type CpuSnapshot = Record<string, number>;

/**
 * A snapshot of the CPU used so far by the stack's processes and the daemons a job goes
 * through (dockerd, containerd, MariaDB, RabbitMQ), and by the whole machine; `cpuPerJob`
 * turns two snapshots into milliseconds per job. Processes that come and go (runc,
 * containerd shims) are in `machine` only.
 */
export async function cpuSnapshot(pids: Record<string, number | undefined>): Promise<CpuSnapshot> {
  const out: CpuSnapshot = { machine: await machineCpuSeconds() };
  const byName = { dockerd: 'dockerd', containerd: 'containerd', mariadb: 'mariadbd', rabbitmq: 'beam.smp' };
  const { readdir } = await import('node:fs/promises');
  const comms = new Map<string, number[]>();
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const comm = (await readFile(`/proc/${d}/comm`, 'utf8').catch(() => '')).trim();
    comms.set(comm, [...(comms.get(comm) ?? []), Number(d)]);
  }
  for (const [label, comm] of Object.entries(byName)) {
    let sum = 0;
    for (const pid of comms.get(comm) ?? []) sum += await cpuSeconds(pid).catch(() => 0);
    out[label] = sum;
  }
  for (const [label, pid] of Object.entries(pids)) if (pid) out[label] = await cpuSeconds(pid).catch(() => 0);
  out.bench = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  return out;
}

/** "machine 120 ms, dockerd 40 ms, …" per job between two snapshots. */
export function cpuPerJob(before: CpuSnapshot, after: CpuSnapshot, jobs: number): string {
  const digits = jobs >= 1000 ? 2 : 0;
  return Object.keys(after).map((k) => `${k} ${(((after[k] ?? 0) - (before[k] ?? 0)) * 1000 / jobs).toFixed(digits)}`).join(', ') + ' ms';
}

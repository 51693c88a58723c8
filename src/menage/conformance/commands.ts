import Docker from 'dockerode';
import { dirname, join } from 'node:path';
import { dockerOptions } from '../../docker-proxy/endpoint.js';
import type { Engine } from '../../engines/engines.js';
import { formatReport, runKit } from './kit.js';
import { DockerRunner } from '../runner.js';

/** The operator commands on engines: `engines list`, `engines reload`, `engine test`. */
export interface EnginesCommandOptions {
  engines: readonly Engine[];
  enginesFile: string;
  /** The Docker engine: a socket path or a tcp:// URL. */
  docker: string;
  out: (text: string) => void;
}

/** `menagerie engines list`: each engine's pinned image, tag, digest and whether the daemon has it. */
export async function listEngines(o: EnginesCommandOptions): Promise<number> {
  const docker = new Docker(dockerOptions(o.docker));
  const rows = [['engine', 'image', 'tag', 'pinned digest', 'present', 'image id', 'registry digest']];
  for (const e of o.engines) {
    const { tag, digest } = pinOf(e.image);
    const info = await docker.getImage(e.image).inspect().catch(() => undefined);
    rows.push([e.name, e.image.replace(/@sha256:.*$/, ''), tag, digest ?? '-', info ? 'yes' : 'NO (not pulled)',
      info ? info.Id.slice(0, 19) : '-', info?.RepoDigests?.[0]?.replace(/^.*@/, '') ?? '-']);
  }
  o.out(table(rows));
  return o.engines.every((e) => rows.some((r) => r[0] === e.name && r[4] === 'yes')) ? 0 : 1;
}

/** `menagerie engine test NAME...`: runs the conformance kit of each engine; 0 when all pass. */
export async function testEngines(o: EnginesCommandOptions, names: readonly string[]): Promise<number> {
  const docker = new Docker(dockerOptions(o.docker));
  const unknown = names.filter((n) => !o.engines.some((e) => e.name === n));
  if (unknown.length) {
    o.out(`no engine named ${unknown.join(', ')} in ${o.enginesFile} (it has ${o.engines.map((e) => e.name).join(', ')})\n`);
    return 2;
  }
  const runner = new DockerRunner(docker, 'menagerie-kit');
  let failed = 0;
  for (const engine of o.engines.filter((e) => names.length === 0 || names.includes(e.name))) {
    try {
      const report = await runKit({ engine, engineDir: join(dirname(o.enginesFile), engine.name), dispatcher: runner, docker, deployment: 'menagerie-kit' });
      o.out(`${formatReport(report)}\n\n`);
      if (!report.passed) failed++;
    } catch (err) {
      o.out(`${engine.name} (${engine.image}): the kit could not run: ${(err as Error).message}\n\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

/** The services that re-read engines.json on SIGHUP, in the order they are signalled. */
export const RELOAD_SERVICES = ['docker-proxy', 'menage', 'frontend'] as const;

/**
 * `menagerie engines reload`: sends SIGHUP to the given processes, or else to the appliance's
 * docker-proxy, menage and frontend containers (compose project `project`), the proxy first
 * so that menage's conformance kit already runs under the new engines' policy. Each re-reads
 * engines.json; the frontend takes uploads for a new engine only once a menage serves it.
 */
export async function signalReload(o: EnginesCommandOptions, pids: readonly number[], project: string): Promise<number> {
  if (pids.length) {
    for (const pid of pids) process.kill(pid, 'SIGHUP');
    o.out(`sent SIGHUP to ${pids.join(', ')}; each logs "engines reloaded" or why it refused\n`);
    return 0;
  }
  const docker = new Docker(dockerOptions(o.docker));
  const containers = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`], status: ['running'] } });
  const service = (c: (typeof containers)[number]): string => c.Labels['com.docker.compose.service'] ?? '';
  const targets = RELOAD_SERVICES.flatMap((name) => containers.filter((c) => service(c) === name));
  if (!targets.some((c) => service(c) !== 'docker-proxy')) {
    o.out(`no running frontend or menage container of compose project "${project}"; give --pid for processes outside containers\n`);
    return 1;
  }
  for (const c of targets) {
    await docker.getContainer(c.Id).kill({ signal: 'SIGHUP' });
    // The proxy's reload is synchronous on its signal: a moment for it before menage starts its kit.
    if (service(c) === 'docker-proxy') await new Promise((r) => setTimeout(r, 1000));
  }
  o.out(`sent SIGHUP to ${targets.map(service).join(', ')}; see their logs (menageriectl logs) for "engines reloaded" or why a reload was refused\n`);
  return 0;
}

/** The tag and the digest an image reference pins. */
export function pinOf(image: string): { tag: string; digest?: string } {
  const [ref = image, digest] = image.split('@');
  const last = ref.split('/').pop() ?? ref;
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : 'latest';
  return digest ? { tag, digest } : { tag };
}

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return `${rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')}\n`;
}

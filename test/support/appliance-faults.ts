import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { LABELS } from '../../src/contract/labels.js';
import { applianceAuth } from './appliance.js';

/** The repository root (holds appliance/). */
export const ROOT = ((): string => {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'appliance/install'))) return d;
  }
  throw new Error('no appliance/install above this file');
})();

/** The provisioned appliance's public API. */
export const API = 'http://127.0.0.1:8100';
const CTL = '/usr/local/sbin/menageriectl';
/** The appliance's deployment label on engine containers and volumes (rabbitmq.prefix). */
const DEPLOYMENT = 'menagerie';

/** Runs a command as the test's user (root); resolves with its exit code and output. */
export function sh(script: string, timeoutMs = 180_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Runs a command and throws with its output if it fails. */
export async function must(script: string, timeoutMs?: number): Promise<string> {
  const r = await sh(script, timeoutMs);
  if (r.code !== 0) throw new Error(`${script} exited ${r.code}:\n${r.out.slice(-3000)}`);
  return r.out;
}

/** `menageriectl status`: exit code and the per-service lines. */
export function status(): Promise<{ code: number; out: string }> {
  return sh(`${CTL} status`, 60_000);
}

/** Waits until `menageriectl status` exits 0; returns how long it took (ms), or -1. */
export async function waitHealthy(limitMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    if ((await status()).code === 0) return Date.now() - t0;
    await sleep(2000);
  }
  return -1;
}

/** Engine containers and volumes of the appliance still present (after waiting up to `limitMs`). */
export async function leftovers(limitMs: number): Promise<string[]> {
  const docker = new Docker();
  const filters = { label: [`${LABELS.deployment}=${DEPLOYMENT}`] };
  const until = Date.now() + limitMs;
  for (;;) {
    const left = await Promise.all([
      docker.listContainers({ all: true, filters }).then((cs) => cs.map((c) => `container ${c.Id.slice(0, 12)} ${c.State}`)),
      docker.listVolumes({ filters }).then((v) => (v.Volumes ?? []).map((x) => `volume ${x.Name.slice(0, 12)}`)),
    ]).then(([c, v]) => [...c, ...v], (err: Error) => [`docker not answering: ${err.message}`]);
    if (left.length === 0 || Date.now() > until) return left;
    await sleep(2000);
  }
}

/** The docker daemon's pid, or undefined. */
async function dockerdPid(): Promise<number | undefined> {
  const r = await sh('cat /var/run/docker.pid 2>/dev/null');
  const pid = Number(r.out.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Stops dockerd by its pid (no init script can here: see ENVIRONMENT.md) and waits for its exit. */
export async function stopDockerd(): Promise<void> {
  const pid = await dockerdPid();
  if (!pid) throw new Error('no /var/run/docker.pid: is dockerd running?');
  await must(`kill ${pid}; for i in $(seq 120); do kill -0 ${pid} 2>/dev/null || exit 0; sleep 0.5; done; exit 1`, 90_000);
}

/** Starts dockerd the way test/run and appliance/install do (appliance/lib/services.sh). */
export async function startDockerd(): Promise<void> {
  await must('. appliance/lib/services.sh; ensure_docker', 180_000);
}

/** One job as the stream saw it. */
interface Tracked { id: string; acceptedAt: number; doneAt?: number; status?: string; summary?: string }

/**
 * Uploads md5 jobs at a steady pace and follows each accepted one to its end. Uploads the
 * API refuses (503, connection refused while a service is down) are counted, not tracked.
 */
export class JobStream {
  readonly jobs: Tracked[] = [];
  refused = 0;
  #stop = false;
  #deadline = Infinity;
  #loops: Promise<void>[] = [];

  start(everyMs = 500): void {
    this.#loops = [this.#submit(everyMs), this.#follow()];
  }

  async #submit(everyMs: number): Promise<void> {
    for (let n = 0; !this.#stop; n++) {
      const form = new FormData();
      form.append('upload', new Blob([`fault stream ${Date.now()} ${n}`]), 'sample');
      try {
        const res = await fetch(`${API}/md5/upload`, { method: 'POST', body: form, headers: applianceAuth(), signal: AbortSignal.timeout(15_000) });
        const json = (await res.json()) as { jobid?: string };
        if (res.status === 200 && json.jobid) this.jobs.push({ id: json.jobid, acceptedAt: Date.now() });
        else this.refused++;
      } catch {
        this.refused++;
      }
      await sleep(everyMs);
    }
  }

  async #follow(): Promise<void> {
    while (!this.#stop || this.jobs.some((j) => !j.doneAt)) {
      for (const j of this.jobs.filter((x) => !x.doneAt)) {
        try {
          const r = (await (await fetch(`${API}/result/${j.id}`, { headers: applianceAuth(), signal: AbortSignal.timeout(5000) })).json()) as { status: string; summary: string };
          if (r.status === 'Success' || r.status === 'Fail') Object.assign(j, { doneAt: Date.now(), status: r.status, summary: r.summary });
        } catch {
          // the API is down: keep following
        }
      }
      if (this.#stop && Date.now() > this.#deadline) return;
      await sleep(1000);
    }
  }

  /** Stops submitting; waits up to `limitMs` for every accepted job to end. */
  async finish(limitMs: number): Promise<void> {
    this.#stop = true;
    this.#deadline = Date.now() + limitMs;
    await Promise.all(this.#loops);
  }
}

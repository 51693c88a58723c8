import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABELS } from '../src/contract/labels.js';
import { submit, waitSuccess } from './client.js';
import { rawJob } from './raw.js';
import { benchEngine, cpuPerJob, cpuSnapshot, startLocal, type CpuSnapshot, type Target } from './stack.js';
import { closedLoop, latency, ms, ratio, type Latency } from './stats.js';
import type { Engine } from '../src/engines/engines.js';

/** Waits (at most 30 s) until `want` warm-pool containers of the deployment wait for jobs. */
async function poolReady(docker: Docker, deployment: string, want: number): Promise<void> {
  for (const until = Date.now() + 30_000; Date.now() < until; await sleep(100)) {
    const idle = await docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${deployment}`, `${LABELS.role}=pool`], status: ['created'] } });
    if (idle.length >= want) return;
  }
}

/**
 * The mean of each stage histogram over the run (warm-up included), from the frontend's and
 * menage's /metrics: upload, store, publish, then queue_wait, lease, create, copy_in, run,
 * collect, report.
 */
async function stageMeans(t: Target, engine: string): Promise<string> {
  const scrape = async (url: string): Promise<string> => (await fetch(`${url}/metrics`, { headers: t.headers })).text().catch(() => '');
  const text = `${await scrape(t.url)}\n${t.menageOpsUrl ? await scrape(t.menageOpsUrl) : ''}`;
  const out: string[] = [];
  for (const stage of ['upload', 'store', 'publish', 'queue_wait', 'lease', 'create', 'copy_in', 'run', 'collect', 'report']) {
    const pick = (what: 'sum' | 'count'): number => {
      const re = new RegExp(`^menagerie_(?:frontend|menage)_stage_seconds_${what}\\{[^}]*stage="${stage}"[^}]*\\} (\\S+)$`, 'm');
      const m = text.split('\n').filter((l) => !l.includes('engine=') || l.includes(`engine="${engine}"`)).join('\n').match(re);
      return Number(m?.[1] ?? NaN);
    };
    const mean = pick('sum') / pick('count');
    if (Number.isFinite(mean)) out.push(`${stage} ${(mean * 1000).toFixed(0)} ms`);
  }
  return out.join(', ') || 'no stage metrics';
}

/** Jobs/s and latency of one closed-loop run. */
export interface LoopFigures {
  jobsPerSecond: number;
  latency: Latency;
}

export interface E2eOptions {
  jobs: number;
  slots: number[];
  /** Extra engines.json fields for the Menagerie side (the warm benchmark sets its pool). */
  engineFields?: (slots: number) => Record<string, unknown>;
  /** A running appliance instead of a local stack: its engine to use and its engines (for the raw loop). */
  remote?: { target: Target; engine: Engine };
  print: (line: string) => void;
}

/**
 * Menagerie (upload → poll /result until Success, one job per client) against the raw
 * dockerode loop at the same concurrency, for each slot count. The two alternate in halves
 * (raw, Menagerie, raw, Menagerie) so that a burst of load from other users of the machine
 * falls on both.
 */
export async function runE2e(o: E2eOptions): Promise<{ slots: number; raw: LoopFigures; menagerie: LoopFigures }[]> {
  const docker = new Docker();
  const out = [];
  for (const slots of o.slots) {
    const name = `bench${slots}`;
    const target = o.remote?.target ?? await startLocal([benchEngine(name, { workers: slots, ...o.engineFields?.(slots) })]);
    try {
      const engine = o.remote?.engine ?? target.engines[0] as Engine;
      const deployment = target.env?.config.rabbitmq.prefix ?? `bench-raw-${randomBytes(4).toString('hex')}`;
      const input = (i: number): Buffer => Buffer.from(`bench ${slots} ${i} ${randomBytes(8).toString('hex')}\n`);
      const raw = (n: number): Promise<{ durations: number[]; wallMs: number }> => closedLoop(n, slots, (i) => rawJob(docker, engine, deployment, i, input(i)));
      const men = (n: number): Promise<{ durations: number[]; wallMs: number }> => closedLoop(n, slots, async (i) => waitSuccess(target, await submit(target, engine.name, input(i))));
      await raw(slots);
      await men(slots); // warm-up: connections, first container of the image
      // A warm pool is full again before the measured runs (local stack; bounded).
      const warm = Number(o.engineFields?.(slots).warm ?? 0);
      if (warm && !o.remote) await poolReady(docker, deployment, warm);
      const half = Math.max(1, Math.floor(o.jobs / 2));
      // CPU per job of each side, summed over its two halves (local stack only).
      const cpu = { raw: {} as CpuSnapshot, men: {} as CpuSnapshot };
      const pids = { frontend: target.frontend?.pid, menage: target.menage?.pid };
      const timed = async <T>(side: 'raw' | 'men', run: () => Promise<T>): Promise<T> => {
        const before = await cpuSnapshot(pids);
        const r = await run();
        const after = await cpuSnapshot(pids);
        for (const k of Object.keys(after)) cpu[side][k] = (cpu[side][k] ?? 0) + (after[k] ?? 0) - (before[k] ?? 0);
        return r;
      };
      const runs = { raw: [await timed('raw', () => raw(half))], men: [await timed('men', () => men(half))] };
      runs.raw.push(await timed('raw', () => raw(half)));
      runs.men.push(await timed('men', () => men(half)));
      const figures = (r: { durations: number[]; wallMs: number }[]): LoopFigures => ({
        jobsPerSecond: (r.reduce((s, x) => s + x.durations.length, 0) * 1000) / r.reduce((s, x) => s + x.wallMs, 0),
        latency: latency(r.flatMap((x) => x.durations)),
      });
      const row = { slots, raw: figures(runs.raw), menagerie: figures(runs.men) };
      o.print(`slots ${slots}: raw ${row.raw.jobsPerSecond.toFixed(2)} jobs/s (p50 ${ms(row.raw.latency.p50)}, p99 ${ms(row.raw.latency.p99)}); `
        + `menagerie ${row.menagerie.jobsPerSecond.toFixed(2)} jobs/s (upload→Success p50 ${ms(row.menagerie.latency.p50)}, p99 ${ms(row.menagerie.latency.p99)}); `
        + `ratio ${ratio(row.menagerie.jobsPerSecond, row.raw.jobsPerSecond)} × raw throughput, p50 ${ratio(row.menagerie.latency.p50, row.raw.latency.p50)} × raw`);
      out.push(row);
      if (!o.remote) {
        o.print(`slots ${slots}: where the time goes, mean per job: ${await stageMeans(target, engine.name)}`);
        o.print(`slots ${slots}: CPU per job, raw: ${cpuPerJob({}, cpu.raw, 2 * half)}`);
        o.print(`slots ${slots}: CPU per job, menagerie: ${cpuPerJob({}, cpu.men, 2 * half)}`);
      }
    } finally {
      if (!o.remote) await target.close();
    }
  }
  return out;
}

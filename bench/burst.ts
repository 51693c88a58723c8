import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from './client.js';
import { bareServer, poster } from './http-client.js';
import { benchEngine, cpuPerJob, cpuSeconds, cpuSnapshot, startLocal, type Target } from './stack.js';
import { closedLoop, latency, load, ms, ratio } from './stats.js';

export interface BurstOptions {
  count: number;
  concurrency: number;
  /** Run every job to its end (slow: Docker's pace), or cancel what is still queued. */
  drain: 'run' | 'cancel';
  remote?: { target: Target; engine: string };
  print: (line: string) => void;
}

/**
 * `count` small uploads at `concurrency` (closed loop), against the same client posting the
 * same multipart bodies to a bare node:http server; then every accepted job must end (run, or
 * cancelled through API v1), and each id must be known and terminal: none lost.
 */
export async function runBurst(o: BurstOptions): Promise<void> {
  const target = o.remote?.target ?? await startLocal([benchEngine('burst', { workers: 2 })],
    { overrides: { uploads: { maxConcurrent: Math.max(16, o.concurrency) } } });
  const engine = o.remote?.engine ?? 'burst';
  const bare = await bareServer();
  try {
    const body = (i: number): Buffer => Buffer.from(`burst ${i} ${randomBytes(8).toString('hex')}\n`);
    const [toBare, toTarget] = [poster(bare.url, {}), poster(target.url, target.headers)];
    const floor = await closedLoop(Math.min(o.count, 2000), o.concurrency, async (i) => {
      await toBare.post('/x/upload', body(i));
    });
    const ids: string[] = [];
    let refused = 0;
    const pid = target.frontend?.pid;
    const cpuBefore = pid ? await cpuSeconds(pid) : 0;
    const pids = { frontend: pid, menage: target.menage?.pid };
    const snapBefore = o.remote ? undefined : await cpuSnapshot(pids);
    const run = await closedLoop(o.count, o.concurrency, async (i) => {
      ids.push(await toTarget.post(`/${engine}/upload`, body(i)).catch(() => {
        refused++;
        return '';
      }));
    });
    const cpu = pid ? (await cpuSeconds(pid)) - cpuBefore : undefined;
    // Beside the frontend: the jobs menage runs meanwhile (dockerd, containerd, the engines).
    if (snapBefore) o.print(`CPU per upload: ${cpuPerJob(snapBefore, await cpuSnapshot(pids), o.count)}`);
    toBare.close();
    toTarget.close();
    const rate = (r: { durations: number[]; wallMs: number }): number => (r.durations.length * 1000) / r.wallMs;
    const [lf, lr] = [latency(floor.durations), latency(run.durations)];
    o.print(`${o.count} uploads at concurrency ${o.concurrency}: ${rate(run).toFixed(0)} accepted/s (p50 ${ms(lr.p50)}, p99 ${ms(lr.p99)}), refused ${refused}; `
      + `bare node:http ${rate(floor).toFixed(0)}/s (p50 ${ms(lf.p50)}, p99 ${ms(lf.p99)}); ratio ${ratio(rate(run), rate(floor))} × bare; `
      + `frontend CPU ${cpu === undefined ? 'n/a (remote)' : `${((cpu * 1000) / o.count).toFixed(2)} ms per upload`} (load ${load()})`);
    const accepted = ids.filter(Boolean);
    const started = Date.now();
    if (o.drain === 'cancel') await closedLoop(accepted.length, 8, (i) => cancel(target, accepted[i] as string));
    const unfinished = await waitTerminal(target, accepted);
    o.print(`${accepted.length} accepted jobs ${o.drain === 'cancel' ? 'cancelled or run' : 'run'}: ${unfinished.length} not terminal after ${((Date.now() - started) / 1000).toFixed(0)} s, ${new Set(accepted).size === accepted.length ? 'ids unique' : 'DUPLICATE ids'}${unfinished.length ? ` (e.g. ${unfinished.slice(0, 5).join(', ')})` : ''}`);
  } finally {
    await bare.close();
    if (!o.remote) await target.close();
  }
}

/** Cancels a job; a job that has already ended is fine (409 JOB_FINISHED). */
async function cancel(t: Target, id: string): Promise<void> {
  const res = await fetch(`${t.url}/api/v1/jobs/${id}/cancel`, { method: 'POST', headers: t.headers });
  await res.arrayBuffer();
  if (res.status !== 200 && res.status !== 409) throw new Error(`cancel ${id}: ${res.status}`);
}

/** Waits (bounded: 2 s a job, at least 2 minutes) until each job is Success or Fail; returns those that are not. */
async function waitTerminal(t: Target, ids: string[]): Promise<string[]> {
  const until = Date.now() + Math.max(120_000, ids.length * 2000);
  let left = ids;
  while (left.length && Date.now() < until) {
    const now = left;
    const open: string[] = [];
    await closedLoop(now.length, 32, async (i) => {
      const id = now[i] as string;
      const s = await status(t, id).catch(() => 'unknown');
      if (s !== 'Success' && s !== 'Fail') open.push(id);
    });
    left = open;
    if (left.length) await sleep(1000);
  }
  return left;
}


import { loadavg } from 'node:os';

/** The p-th percentile (0..100) of samples, nearest-rank; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside 0..100`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** p50, p99 and max of latencies in milliseconds. */
export interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function latency(samples: readonly number[]): Latency {
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: percentile(samples, 100) };
}

/** a / b, rounded to two places; NaN when b is 0 or either is not finite. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return Math.round((a / b) * 100) / 100;
}

/** The machine's 1-minute load average, as a string for the report. */
export function load(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** Formats milliseconds for a report line. */
export function ms(x: number): string {
  return Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms` : 'n/a';
}

/**
 * Runs `fn` `count` times with at most `concurrency` at once (closed loop); resolves to each
 * call's duration in milliseconds and the wall time of the whole run.
 */
export async function closedLoop(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<{ durations: number[]; wallMs: number }> {
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t = performance.now();
      await fn(i);
      durations.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { durations, wallMs: performance.now() - started };
}

/** The outcome of an open-loop run. */
export interface OpenLoopResult {
  /** Latency of each completed request from its scheduled start (coordinated omission corrected). */
  latencies: number[];
  /** When each completed request was due, in ms from the start (parallel to `latencies`). */
  dueMs: number[];
  errors: number;
  /** When each failed request was due, in ms from the start. */
  errorDueMs: number[];
  /** Requests that could not be sent on time because `maxInFlight` were outstanding. */
  late: number;
  wallMs: number;
}

/**
 * Offers `rate` requests per second for `seconds` (open loop): request i is due at
 * start + i / rate whatever the answers to earlier ones, and its latency counts from when it
 * was due, so a server that stalls is charged for the requests queued behind the stall.
 * `now` and `sleepUntil` are injectable for tests.
 */
export async function openLoop(rate: number, seconds: number, fn: (i: number) => Promise<boolean>,
  o: { maxInFlight?: number; now?: () => number; sleepUntil?: (t: number) => Promise<void> } = {}): Promise<OpenLoopResult> {
  if (!(rate > 0) || !(seconds > 0)) throw new RangeError('rate and seconds must be positive');
  const now = o.now ?? (() => performance.now());
  const sleepUntil = o.sleepUntil ?? ((t: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, t - now()))));
  const maxInFlight = o.maxInFlight ?? 10_000;
  const total = Math.round(rate * seconds);
  const start = now();
  const res: OpenLoopResult = { latencies: [], dueMs: [], errors: 0, errorDueMs: [], late: 0, wallMs: 0 };
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    if (due > now()) await sleepUntil(due);
    if (pending.size >= maxInFlight) {
      res.late++;
      await Promise.race(pending);
    }
    const failed = (): void => {
      res.errors++;
      res.errorDueMs.push(due - start);
    };
    const p = fn(i).then((ok) => {
      if (!ok) return failed();
      res.latencies.push(now() - due);
      res.dueMs.push(due - start);
    }, failed).finally(() => pending.delete(p));
    pending.add(p);
  }
  await Promise.all(pending);
  res.wallMs = now() - start;
  return res;
}

/**
 * The run cut into windows of `windowMs` by when each request was due: per window its p99
 * and errors (if any), as "0–1 s: p99 3.10 ms; 1–2 s: p99 490 ms, 2 errors", so a stall at the start
 * (connections, statement preparation, JIT) tells itself apart from a steady backlog.
 */
export function timeline(r: OpenLoopResult, windowMs = 1000): string {
  const windows = new Map<number, { lat: number[]; errors: number }>();
  const at = (t: number): { lat: number[]; errors: number } => {
    const k = Math.floor(t / windowMs);
    let w = windows.get(k);
    if (!w) windows.set(k, (w = { lat: [], errors: 0 }));
    return w;
  };
  r.latencies.forEach((l, i) => at(r.dueMs[i] ?? 0).lat.push(l));
  for (const t of r.errorDueMs) at(t).errors++;
  return [...windows.entries()].sort(([a], [b]) => a - b)
    .map(([k, w]) => `${(k * windowMs) / 1000}–${((k + 1) * windowMs) / 1000} s: p99 ${ms(percentile(w.lat, 99))}${w.errors ? `, ${w.errors} errors` : ''}`)
    .join('; ');
}

import { expect } from 'chai';
import { closedLoop, latency, openLoop, percentile, ratio, timeline } from '../../../bench/stats.js';

describe('bench: the statistics the benchmarks report', () => {
  it('percentiles are nearest-rank over the sorted samples', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(xs, 50)).to.equal(50);
    expect(percentile(xs, 99)).to.equal(99);
    expect(percentile(xs, 100)).to.equal(100);
    expect(percentile(xs, 0)).to.equal(1);
    expect(percentile([7], 99)).to.equal(7);
    expect(percentile([], 50)).to.be.NaN;
    expect(() => percentile(xs, 101)).to.throw(RangeError);
    expect(latency([3, 1, 2])).to.deep.equal({ n: 3, p50: 2, p99: 3, max: 3 });
  });

  it('a ratio is rounded to two places and never divides by zero', () => {
    expect(ratio(4.15, 5.75)).to.equal(0.72);
    expect(ratio(1, 0)).to.be.NaN;
    expect(ratio(Number.NaN, 1)).to.be.NaN;
  });

  it('the closed loop runs every call once, never more than its concurrency at a time', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    const r = await closedLoop(20, 3, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      seen.push(i);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    expect(most).to.equal(3);
    expect(r.durations).to.have.length(20);
  });
});

describe('bench: the open-loop scheduler', () => {
  /** A fake clock: sleeping moves it; each request takes `service(i)` ms of fake time. */
  function fakeClock() {
    let t = 0;
    const timers: { at: number; fire: () => void }[] = [];
    // Fires due timers in order, letting each one's continuations run before time moves on.
    const advanceTo = async (at: number): Promise<void> => {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > at) break;
        timers.shift();
        t = Math.max(t, next.at);
        next.fire();
        await new Promise((resolve) => setImmediate(resolve));
      }
      t = Math.max(t, at);
    };
    return {
      now: () => t,
      sleepUntil: (at: number) => advanceTo(at),
      after: (ms: number) => new Promise<void>((resolve) => timers.push({ at: t + ms, fire: resolve })),
      /** Once the scheduler has sent everything, fires the remaining timers one by one until `p` settles. */
      settle: async <T>(p: Promise<T>): Promise<T> => {
        let done = false;
        void p.finally(() => { done = true; });
        while (!done) {
          await new Promise((resolve) => setImmediate(resolve));
          timers.sort((a, b) => a.at - b.at);
          const next = timers[0];
          if (next) await advanceTo(next.at);
        }
        return p;
      },
    };
  }

  it('sends rate × seconds requests on schedule, whatever the answers take', async () => {
    const clock = fakeClock();
    const sentAt: number[] = [];
    const run = openLoop(100, 2, async () => {
      sentAt.push(clock.now());
      await clock.after(5);
      return true;
    }, { now: clock.now, sleepUntil: clock.sleepUntil });
    const r = await clock.settle(run);
    expect(sentAt).to.have.length(200);
    expect(sentAt[1]).to.equal(10);
    expect(sentAt[199]).to.equal(1990);
    expect(r.errors).to.equal(0);
    expect(percentile(r.latencies, 99)).to.equal(5);
  });

  it('charges a stall to every request due during it (coordinated omission)', async () => {
    const clock = fakeClock();
    // The server stalls for 500 ms at 1 s: requests due meanwhile are sent late by this
    // scheduler only if it waits for answers; it does not, so their latency counts from when they were due.
    const run = openLoop(100, 2, async (i) => {
      const stallEnds = 1500;
      const due = i * 10;
      if (due >= 1000 && due < 1500) {
        await clock.after(stallEnds - clock.now());
      } else await clock.after(1);
      return true;
    }, { now: clock.now, sleepUntil: clock.sleepUntil });
    const r = await clock.settle(run);
    expect(r.latencies).to.have.length(200);
    expect(percentile(r.latencies, 50)).to.equal(1);
    // 50 of 200 requests (25 %) were due inside the stall; the first waited 500 ms.
    expect(percentile(r.latencies, 99)).to.be.greaterThan(400);
    expect(Math.max(...r.latencies)).to.equal(500);
    // By second, the stall shows in the second it fell in, and the first second is clean.
    expect(timeline(r)).to.equal('0–1 s: p99 1.00 ms; 1–2 s: p99 490 ms');
  });

  it('counts refused and thrown requests as errors, not latencies', async () => {
    const r = await openLoop(1000, 0.01, async (i) => {
      if (i === 3) throw new Error('reset');
      return i % 2 === 0;
    });
    expect(r.latencies.length + r.errors).to.equal(10);
    expect(r.errors).to.equal(5); // the odd ones, the thrown one among them
    expect(r.errorDueMs).to.have.length(5);
    expect(r.dueMs).to.have.length(r.latencies.length);
    expect(timeline(r, 5)).to.match(/^0–0\.005 s: p99 [0-9.]+ ms, 2 errors; 0\.005–0\.01 s: p99 [0-9.]+ ms, 3 errors$/);
  });
});

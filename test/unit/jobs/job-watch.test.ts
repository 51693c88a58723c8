import { expect } from 'chai';
import { UnavailableError } from '../../../src/errors.js';
import { JobWatch, readWhenEnded } from '../../../src/jobs/job-watch.js';
import type { Job, JobStatus } from '../../../src/jobs/job.js';

/** How long a promise takes to settle, in ms. */
async function took(p: Promise<unknown>): Promise<number> {
  const t = performance.now();
  await p;
  return performance.now() - t;
}

const job = (status: JobStatus): Job => ({ id: '7', status } as Job);

describe('jobs/job-watch: waiting for a job to end (?wait=)', () => {
  it('wakes the waiters of the job that ended, and only those', async () => {
    const w = new JobWatch();
    const seven = w.arm('7', 10_000);
    const eight = w.arm('8', 50);
    expect(w.waiting).to.equal(2);
    w.ended('7');
    expect(await took(seven.woken)).to.be.below(20);
    expect(w.waiting).to.equal(1);
    expect(await took(eight.woken), 'the other waits for its timeout').to.be.within(20, 1000);
    expect(w.waiting).to.equal(0);
  });

  it('ends a wait at its timeout, at the abort of its signal, at disarm and at close', async () => {
    const w = new JobWatch();
    expect(await took(w.arm('1', 60).woken)).to.be.within(50, 1000);
    const left = new AbortController();
    const aborted = w.arm('1', 10_000, left.signal);
    setTimeout(() => left.abort(), 30);
    expect(await took(aborted.woken)).to.be.within(20, 1000);
    const disarmed = w.arm('1', 10_000);
    disarmed.disarm();
    disarmed.disarm(); // twice is harmless and counted once
    expect(await took(disarmed.woken)).to.be.below(20);
    const open = w.arm('2', 10_000);
    w.close();
    expect(await took(open.woken)).to.be.below(20);
    expect(await took(w.arm('3', 10_000).woken), 'after close: at once').to.be.below(20);
    expect([w.waiting, w.closed]).to.deep.equal([0, true]);
  });

  it('refuses a wait beyond its limit with 503 OVERLOADED (Retry-After 1), and takes one again once a wait ended', () => {
    const w = new JobWatch(2);
    const a = w.arm('1', 10_000);
    w.arm('2', 10_000);
    let err: unknown;
    try {
      w.arm('3', 10_000);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UnavailableError);
    expect(err).to.include({ code: 'OVERLOADED', retryAfter: 1 });
    a.disarm();
    expect(() => w.arm('3', 10).disarm()).not.to.throw();
    w.close();
  });

  describe('readWhenEnded', () => {
    it('answers at once for an ended job, and reads once', async () => {
      const w = new JobWatch();
      let reads = 0;
      const got = await readWhenEnded(w, '7', 10_000, async () => (reads++, job('Success')));
      expect([got.status, reads, w.waiting]).to.deep.equal(['Success', 1, 0]);
    });

    it('answers when woken, with the job read again', async () => {
      const w = new JobWatch();
      let status: JobStatus = 'Running';
      setTimeout(() => {
        status = 'Fail';
        w.ended('7');
      }, 50);
      const t = performance.now();
      const got = await readWhenEnded(w, '7', 10_000, async () => job(status));
      expect(got.status).to.equal('Fail');
      expect(performance.now() - t).to.be.within(40, 1000);
      expect(w.waiting).to.equal(0);
    });

    it('does not miss an end between its read and its wait: the wait is armed before the read', async () => {
      const w = new JobWatch();
      let status: JobStatus = 'Running';
      // The job ends while the read is in flight: the read still sees Running.
      const read = async (): Promise<Job> => {
        const seen = job(status);
        status = 'Success';
        w.ended('7');
        return seen;
      };
      const t = performance.now();
      expect((await readWhenEnded(w, '7', 10_000, read)).status).to.equal('Success');
      expect(performance.now() - t, 'woken, not timed out').to.be.below(500);
    });

    it('answers the unfinished job once the time is up, and at once when the client has left', async () => {
      const w = new JobWatch();
      const t = performance.now();
      expect((await readWhenEnded(w, '7', 80, async () => job('Running'))).status).to.equal('Running');
      expect(performance.now() - t).to.be.within(70, 1000);
      const left = new AbortController();
      setTimeout(() => left.abort(), 30);
      expect(await took(readWhenEnded(w, '7', 10_000, async () => job('Received'), left.signal))).to.be.below(1000);
      expect(w.waiting).to.equal(0);
    });

    it('passes a failed read on without waiting, and leaves no wait armed', async () => {
      const w = new JobWatch();
      let err: unknown;
      await readWhenEnded(w, '7', 10_000, async () => {
        throw new Error('no such job');
      }).catch((e: unknown) => (err = e));
      expect((err as Error).message).to.equal('no such job');
      expect(w.waiting).to.equal(0);
    });
  });
});

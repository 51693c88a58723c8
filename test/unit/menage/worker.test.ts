import { expect } from 'chai';
import type { Engine } from '../../../src/engines/engines.js';
import { Breaker } from '../../../src/menage/breaker.js';
import { FrontendUnavailable, InfrastructureError, RunAborted, WorkerRefused } from '../../../src/errors.js';
import type { FrontendClient } from '../../../src/menage/frontend-client.js';
import type { ContainerDispatcher, RunOutcome } from '../../../src/menage/runner.js';
import { RunningJobs } from '../../../src/menage/running-jobs.js';
import { createJobHandler } from '../../../src/menage/worker.js';
import { memoryLog } from '../../support/log.js';

/** A frontend that records what the worker told it; each call may be made to fail. */
function fakeClient(opts: { startFails?: () => boolean; releaseFails?: () => boolean } = {}) {
  const calls: { releases: { infrastructure: boolean }[]; fails: string[] } = { releases: [], fails: [] };
  const client = {
    start: async (id: string) => {
      if (opts.startFails?.()) throw new FrontendUnavailable('frontend unreachable for POST start: ECONNREFUSED');
      return { jobid: id, engine: 'md5', lease: 'l'.repeat(32), attempt: 1, size: 1, deadline: '', heartbeatMs: 60_000 };
    },
    heartbeat: async () => 'recorded',
    log: async () => 'recorded',
    input: async () => { throw new Error('not used'); },
    result: async () => 'recorded',
    fail: async (_id: string, _lease: string, reason: string) => {
      calls.fails.push(reason);
      return 'recorded';
    },
    release: async (_id: string, _lease: string, _error: string, infrastructure = false) => {
      if (opts.releaseFails?.()) throw new FrontendUnavailable('frontend answered 503 to POST release');
      calls.releases.push({ infrastructure });
      return 'recorded';
    },
  };
  return { client: client as unknown as FrontendClient, calls };
}

/** A dispatcher whose run ends as `run` says. */
const dispatcher = (run: () => Promise<RunOutcome>): ContainerDispatcher => ({ run });

describe('worker: failure classification and the circuit breaker', () => {
  const engine = { name: 'md5' } as Engine;
  const message = { jobId: '7', engine: 'md5' };
  let up: Record<'docker' | 'frontend', boolean>;
  let breaker: Breaker;
  const lines: string[] = [];

  beforeEach(() => {
    up = { docker: true, frontend: true };
    lines.length = 0;
    const probe = (dep: 'docker' | 'frontend') => async () => {
      if (!up[dep]) throw new Error(`${dep} down`);
    };
    breaker = new Breaker({ probes: { docker: probe('docker'), frontend: probe('frontend') }, log: memoryLog(lines), minDelayMs: 20, maxDelayMs: 50 });
  });
  afterEach(() => breaker.close());

  const handler = (client: FrontendClient, d: ContainerDispatcher) => createJobHandler({
    engine, client, dispatcher: d, node: 'n', log: memoryLog(lines), breaker, backoffMs: () => 1, holdMs: 2000, retryMs: 5,
  });

  it('Docker down mid-run: the job goes back without spending the attempt, the message is acked, the breaker opens', async () => {
    const { client, calls } = fakeClient();
    up.docker = false;
    const handle = handler(client, dispatcher(async () => { throw new InfrastructureError('cannot create the container: connect ECONNREFUSED'); }));
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(calls.releases).to.deep.equal([{ infrastructure: true }]);
    expect(breaker.isOpen).to.equal(true);
    expect(breaker.down).to.deep.equal(['docker']);
  });

  it('a refused node token (401) on a heartbeat stops the run and takes no more work; the job is left to the lease', async () => {
    const { client, calls } = fakeClient();
    const refusing = Object.assign(Object.create(null), client, {
      start: async (id: string) => ({ jobid: id, engine: 'md5', lease: 'l'.repeat(32), attempt: 1, size: 1, deadline: '', heartbeatMs: 10 }),
      heartbeat: async () => { throw new WorkerRefused('the frontend refused this node\'s token (401) for POST heartbeat'); },
    }) as FrontendClient;
    up.frontend = false;
    let aborted = false;
    const handle = handler(refusing, { run: (_e, job) => new Promise((_resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the run was not stopped')), 2000);
      job.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        aborted = true;
        reject(new RunAborted('aborted'));
      });
    }) });
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(aborted).to.equal(true);
    expect(calls.releases, 'nothing to hand back with a refused token').to.deep.equal([]);
    expect(breaker.down).to.deep.equal(['frontend']);
    expect(lines.join('\n')).to.match(/refused this node's token \(401\)/);
  });

  it('a Docker error while Docker answers may be the job\'s fault: counted release, requeue, breaker closed', async () => {
    const { client, calls } = fakeClient();
    const handle = handler(client, dispatcher(async () => { throw new InfrastructureError('cannot copy the input in: 500'); }));
    expect(await handle(message, new AbortController().signal)).to.equal('requeue');
    expect(calls.releases).to.deep.equal([{ infrastructure: false }]);
    expect(breaker.isOpen).to.equal(false);
  });

  it('the frontend failing during a run (input or result) is an outage', async () => {
    const { client, calls } = fakeClient();
    const handle = handler(client, dispatcher(async () => {
      throw new InfrastructureError('cannot fetch the input', { cause: new FrontendUnavailable('frontend answered 503 to GET input') });
    }));
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(calls.releases).to.deep.equal([{ infrastructure: true }]);
  });

  it('a start the frontend cannot answer: fresh message (no delivery counted), breaker opens', async () => {
    const { client } = fakeClient({ startFails: () => true });
    up.frontend = false;
    const handle = handler(client, dispatcher(async () => { throw new Error('must not run'); }));
    expect(await handle(message, new AbortController().signal)).to.equal('republish');
    expect(breaker.down).to.deep.equal(['frontend']);
  });

  it('while the breaker is open a delivery is given back fresh; once probes succeed the breaker closes and jobs run', async () => {
    const { client } = fakeClient();
    let runs = 0;
    const handle = handler(client, dispatcher(async () => {
      runs++;
      return { ok: true, containment: {} as never };
    }));
    up.docker = false;
    breaker.trip('docker', 'test');
    const closed = new Promise((resolve) => breaker.once('close', resolve));
    expect(await handle(message, new AbortController().signal)).to.equal('republish');
    expect(runs).to.equal(0);
    up.docker = true;
    await closed;
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(runs).to.equal(1);
    expect(lines.join('\n')).to.match(/circuit open: docker/).and.match(/circuit closed/);
  });

  it('a hand-back the frontend cannot take waits for it, then is recorded as an outage', async () => {
    let refusals = 0;
    const { client, calls } = fakeClient({ releaseFails: () => !up.frontend && ++refusals > 0 });
    up.docker = false;
    up.frontend = false;
    setTimeout(() => {
      up.frontend = true;
    }, 300);
    const handle = handler(client, dispatcher(async () => { throw new InfrastructureError('cannot start the container: ECONNREFUSED'); }));
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(refusals).to.be.greaterThan(0);
    expect(calls.releases).to.deep.equal([{ infrastructure: true }]);
  });

  it('a hand-back that never gets through gives the message back fresh', async () => {
    const { client, calls } = fakeClient({ releaseFails: () => true });
    up.docker = false;
    up.frontend = false;
    const handle = handler(client, dispatcher(async () => { throw new InfrastructureError('cannot start the container: ECONNREFUSED'); }));
    expect(await handle(message, new AbortController().signal)).to.equal('republish');
    expect(calls.releases).to.deep.equal([]);
  });

  it('a shutdown hands the job back uncounted without opening the breaker', async () => {
    const { client, calls } = fakeClient();
    const handle = handler(client, dispatcher(async () => { throw new RunAborted('the run was interrupted (shutdown)'); }));
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(calls.releases).to.deep.equal([{ infrastructure: true }]);
    expect(breaker.isOpen).to.equal(false);
  });

  it('an engine failure still fails the job (ack), whatever the breaker', async () => {
    const { client, calls } = fakeClient();
    const handle = handler(client, dispatcher(async () => ({ ok: false, reason: 'exit code 3', detail: '', containment: {} as never })));
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(calls.fails).to.deep.equal(['exit code 3']);
    expect(calls.releases).to.deep.equal([]);
  });

  it('a cancellation heard while the job runs aborts the run: the message is acked, nothing released or failed', async () => {
    const { client, calls } = fakeClient();
    const running = new RunningJobs();
    const handle = createJobHandler({
      engine, client, node: 'n', log: memoryLog(lines), breaker, backoffMs: () => 1, holdMs: 2000, retryMs: 5, running,
      dispatcher: dispatcher(async () => {
        throw new RunAborted('the run was interrupted (shutdown)');
      }),
    });
    const other = new RunningJobs();
    expect(other.cancel('7'), 'a node not running the job ignores it').to.equal(false);
    let aborted = false;
    const blocking = createJobHandler({
      engine, client, node: 'n', log: memoryLog(lines), breaker, backoffMs: () => 1, holdMs: 2000, retryMs: 5, running,
      dispatcher: { run: (_e, req) => new Promise((_resolve, reject) => req.signal.addEventListener('abort', () => {
        aborted = true;
        reject(new RunAborted('the run was interrupted (shutdown)'));
      })) },
    });
    const outcome = blocking(message, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 10));
    expect(running.size).to.equal(1);
    expect(running.cancel('7')).to.equal(true);
    expect(await outcome).to.equal('ack');
    expect([aborted, calls.releases, calls.fails, running.size]).to.deep.equal([true, [], [], 0]);
    const cancelled = lines.find((l) => l.startsWith('job 7: cancelled; stopping its container'));
    expect(JSON.parse(cancelled!.slice(cancelled!.indexOf(' {') + 1)), 'the job\'s fields').to.include({ jobid: '7', engine: engine.name, attempt: 1, level: 'info' });
    // Without a cancel, the same abort is a shutdown: handed back uncounted.
    expect(await handle(message, new AbortController().signal)).to.equal('ack');
    expect(calls.releases).to.deep.equal([{ infrastructure: true }]);
  });
});

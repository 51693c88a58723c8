import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../engines/engines.js';
import type { Disposition } from '../queue/consumer.js';
import type { JobMessage } from '../queue/topology.js';
import { FrontendUnavailable, type FrontendClient } from './frontend-client.js';
import type { ContainerDispatcher } from './runner.js';

export interface WorkerDeps {
  engine: Engine;
  client: FrontendClient;
  dispatcher: ContainerDispatcher;
  node: string;
  log: (line: string) => void;
  /** Pause before handing a job back after an infrastructure failure, by attempt. */
  backoffMs?: (attempt: number) => number;
}

/**
 * Handles one delivery end to end and says what to do with the message. Failures are
 * classified: the engine's fault fails the job (ack); infrastructure's fault hands the job
 * back for a bounded number of attempts (requeue); a malformed message is dead-lettered.
 * Nothing a job does can crash the worker.
 */
export function createJobHandler(d: WorkerDeps) {
  const backoff = d.backoffMs ?? ((attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000));
  return async function handle(message: JobMessage | undefined, signal: AbortSignal): Promise<Disposition> {
    if (!message || message.engine !== d.engine.name) {
      d.log(`${d.engine.name}: malformed or misrouted message, dead-lettered`);
      return 'dead-letter';
    }
    const id = message.jobId;
    let started;
    try {
      started = await d.client.start(id, d.node);
    } catch (err) {
      d.log(`job ${id}: cannot start: ${(err as Error).message}`);
      await sleep(backoff(1), undefined, { signal }).catch(() => undefined);
      return 'requeue';
    }
    if (typeof started === 'string') {
      d.log(`job ${id}: not started (${started})`);
      return 'ack';
    }
    const { lease, attempt } = started;
    const saveOutput = async (text: string): Promise<void> => {
      if (text) await d.client.log(id, lease, text).catch((e: Error) => d.log(`job ${id}: output not kept: ${e.message}`));
    };
    const job = new AbortController();
    const stopJob = (): void => job.abort();
    signal.addEventListener('abort', stopJob, { once: true });
    let lostLease = false;
    const beat = setInterval(() => {
      d.client.heartbeat(id, lease).then((r) => {
        if (r === 'stale' && !lostLease) {
          lostLease = true;
          d.log(`job ${id}: lease lost (another worker has the job); stopping this run`);
          job.abort();
        }
      }, (err: Error) => d.log(`job ${id}: heartbeat failed: ${err.message}`));
    }, started.heartbeatMs);
    try {
      const outcome = await d.dispatcher.run(d.engine, {
        jobId: id, attempt, node: d.node, signal: job.signal,
        openInput: () => d.client.input(id, job.signal),
        deliver: async (body, _size, containment, output) => {
          // The output is stored first, so it is there as soon as the job shows Success.
          await saveOutput(output);
          const r = await d.client.result(id, lease, body, containment, job.signal);
          if (r === 'stale') d.log(`job ${id}: result not recorded, the lease is stale`);
        },
      });
      if (!outcome.ok) {
        await saveOutput(outcome.detail);
        const r = await retrying(() => d.client.fail(id, lease, outcome.reason, outcome.detail, outcome.containment), job.signal);
        d.log(`job ${id}: failed (${outcome.reason})${r === 'stale' ? ', not recorded: stale lease' : ''}`);
      } else d.log(`job ${id}: done`);
      return 'ack';
    } catch (err) {
      if (lostLease) return 'ack';
      const why = (err as Error).message;
      d.log(`job ${id}: handing back after attempt ${attempt}: ${why}`);
      await retrying(() => d.client.release(id, lease, why), signal)
        .catch((e: Error) => d.log(`job ${id}: release failed: ${e.message}`));
      if (!signal.aborted) await sleep(backoff(attempt), undefined, { signal }).catch(() => undefined);
      return 'requeue';
    } finally {
      clearInterval(beat);
      signal.removeEventListener('abort', stopJob);
    }
  };
}

/**
 * Retries a report while the frontend is unavailable (it may be restarting): a finished
 * job's outcome is worth a few seconds of waiting rather than a re-run.
 */
async function retrying<T>(fn: () => Promise<T>, signal: AbortSignal, tries = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof FrontendUnavailable) || i >= tries || signal.aborted) throw err;
      await sleep(500 * 2 ** i, undefined, { signal }).catch(() => undefined);
    }
  }
}

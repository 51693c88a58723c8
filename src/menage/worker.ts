import { setTimeout as sleep } from 'node:timers/promises';
import { DETAIL_LIMIT } from '../contract/index.js';
import type { Engine } from '../engines/engines.js';
import type { Disposition } from '../queue/consumer.js';
import type { JobMessage } from '../queue/topology.js';
import type { Breaker, Dependency } from './breaker.js';
import { DaemonRestarted, FrontendUnavailable, InfrastructureError, RunAborted, WorkerRefused } from '../errors.js';
import type { FrontendClient, StartedJob } from './frontend-client.js';
import type { MenageMetrics } from '../metrics/menage-metrics.js';
import type { ContainerDispatcher } from './runner.js';
import type { RunningJobs } from './running-jobs.js';
import { jobLogger, type Logger } from '../log/logger.js';

export interface WorkerDeps {
  engine: Engine;
  client: FrontendClient;
  dispatcher: ContainerDispatcher;
  node: string;
  log: Logger;
  /** Opens when Docker or the frontend is away; the consumers pause meanwhile. */
  breaker: Breaker;
  /** Pause before handing a job back after a failure that is not an outage, by attempt. */
  backoffMs?: (attempt: number) => number;
  /** How long a job that could not be handed back waits for the frontend to return. */
  holdMs?: number;
  /** First pause between retries of a report while the frontend is away. */
  retryMs?: number;
  /** Where running jobs are registered, so a cancellation broadcast can stop them. */
  running?: RunningJobs;
  /** Stage timings and outcomes (menage's /metrics). */
  metrics?: MenageMetrics;
}

/** How a delivery ended: what becomes of the message, or an ack with more to say (for metrics). */
type Ending = Disposition | 'failed' | 'not-started' | 'stopped' | 'handed-back';

/** The `outcome` label of `menagerie_menage_jobs_total` for each ending. */
const OUTCOMES: Readonly<Record<Ending, string>> = {
  ack: 'success', failed: 'fail', 'not-started': 'not_started', stopped: 'stopped', 'handed-back': 'handed_back',
  requeue: 'handed_back', republish: 'handed_back', 'dead-letter': 'dead_letter',
};

/** Why a run broke off without the engine being at fault: a service of ours, or shutdown. */
type Outage = Dependency | 'shutdown';

/**
 * Handles one delivery end to end and says what to do with the message. Failures are
 * classified: the engine's fault fails the job (ack); an outage of Docker or the frontend
 * (checked by probing it) opens the breaker and hands the job back without spending an
 * attempt or a delivery (a fresh message); any other infrastructure failure hands it back
 * for a bounded number of attempts (requeue); a malformed message is dead-lettered.
 * Nothing a job does can crash the worker.
 */
export function createJobHandler(d: WorkerDeps) {
  const backoff = d.backoffMs ?? ((attempt: number) => Math.min(1000 * 2 ** (attempt - 1), 30_000));
  const name = d.engine.name;
  const m = d.metrics;
  return async function handle(message: JobMessage | undefined, signal: AbortSignal): Promise<Disposition> {
    const ending = await handleOne(message, signal);
    m?.job(name, OUTCOMES[ending]);
    return ending === 'failed' || ending === 'not-started' || ending === 'stopped' || ending === 'handed-back' ? 'ack' : ending;
  };
  async function handleOne(message: JobMessage | undefined, signal: AbortSignal): Promise<Ending> {
    if (!message || message.engine !== d.engine.name) {
      d.log.warn({ engine: d.engine.name }, `${d.engine.name}: malformed or misrouted message, dead-lettered`);
      return 'dead-letter';
    }
    if (message.publishedAt !== undefined) m?.stage(name, 'queue_wait', (Date.now() - message.publishedAt) / 1000);
    const id = message.jobId;
    const started = m ? await m.time(name, 'lease', () => take(d, id, signal, backoff)) : await take(d, id, signal, backoff);
    if (typeof started === 'string') return started === 'ack' ? 'not-started' : started;
    const log = jobLogger(d.log, { jobid: id, engine: d.engine.name, attempt: started.attempt });
    const run = watchRun(d, id, started, log, signal);
    try {
      return await runAndReport(d, id, started, log, run.signal);
    } catch (err) {
      if (run.stoppedFromOutside()) return 'stopped';
      return await afterFailure(d, id, started, log, err, signal, backoff);
    } finally {
      run.end();
    }
  }
}

/** A started job's run: the signal that stops it, and whether it was stopped from outside. */
interface RunWatch {
  readonly signal: AbortSignal;
  /** Cancelled, or its lease lost (stale, or this node's token refused). */
  stoppedFromOutside(): boolean;
  /** Stops watching (the run is over). */
  end(): void;
}

/**
 * Watches a started job while it runs: the delivery's signal (shutdown), a cancellation
 * broadcast and the heartbeat (a stale lease, a refused node) each stop the run.
 */
function watchRun(d: WorkerDeps, id: string, started: StartedJob, log: Logger, signal: AbortSignal): RunWatch {
  const job = new AbortController();
  const stopJob = (): void => job.abort();
  signal.addEventListener('abort', stopJob, { once: true });
  let lostLease = false;
  let cancelled = false;
  const unregister = d.running?.add(id, () => {
    cancelled = true;
    log.info(`job ${id}: cancelled; stopping its container`);
    job.abort();
  }, d.engine.name);
  const beat = setInterval(() => {
    d.client.heartbeat(id, started.lease).then((r) => {
      if (r === 'stale' && !lostLease) {
        lostLease = true;
        log.warn(`job ${id}: lease lost (another worker has the job); stopping this run`);
        job.abort();
      }
    }, (err: Error) => {
      log.warn({ err }, `job ${id}: heartbeat failed: ${err.message}`);
      // This node's token is refused: it can deliver nothing, so it stops the run and takes
      // no more work; the lease runs out and the frontend hands the job to another node.
      if (err instanceof WorkerRefused && !lostLease) {
        lostLease = true;
        d.breaker.trip('frontend', err.message);
        job.abort();
      }
    });
  }, started.heartbeatMs);
  return {
    signal: job.signal,
    stoppedFromOutside: () => lostLease || cancelled,
    end: () => {
      unregister?.();
      clearInterval(beat);
      signal.removeEventListener('abort', stopJob);
    },
  };
}

/** Runs the job's container and reports its outcome (its output stored first): done or failed. */
async function runAndReport(d: WorkerDeps, id: string, started: StartedJob, log: Logger, signal: AbortSignal): Promise<'ack' | 'failed'> {
  const { lease, attempt } = started;
  const name = d.engine.name;
  const m = d.metrics;
  const saveOutput = async (text: string): Promise<void> => {
    if (text) await d.client.log(id, lease, text).catch((err: Error) => log.warn({ err }, `job ${id}: output not kept: ${err.message}`));
  };
  const outcome = await d.dispatcher.run(d.engine, {
    jobId: id, attempt, node: d.node, signal, ...(m ? { stage: (stage, t) => m.stage(name, stage, t) } : {}),
    openInput: () => d.client.input(id, signal),
    bindContainer: async (container) => {
      if ((await d.client.bindContainer(id, lease, container)) === 'stale') throw new InfrastructureError(`job ${id}: the lease is no longer current; its container is not started`);
    },
    deliver: async (body, _size, containment, output) => {
      const reported = performance.now();
      // The output goes in the same call, stored before the job shows Success.
      const r = await d.client.result(id, lease, body, containment, signal, output);
      m?.stage(name, 'report', (performance.now() - reported) / 1000);
      if (r === 'stale') log.warn(`job ${id}: result not recorded, the lease is stale`);
    },
  });
  if (!outcome.ok) {
    const reported = performance.now();
    // The output is the failure's detail: one call stores both, unless it is too long for the
    // detail (then the log keeps it whole, and the detail its end).
    const inOne = outcome.detail.length <= DETAIL_LIMIT;
    if (!inOne) await saveOutput(outcome.detail);
    const r = await retrying(() => d.client.fail(id, lease, outcome.reason, outcome.detail, outcome.containment, inOne), signal, d.retryMs);
    m?.stage(name, 'report', (performance.now() - reported) / 1000);
    log.info({ reason: outcome.reason }, `job ${id}: failed (${outcome.reason})${r === 'stale' ? ', not recorded: stale lease' : ''}`);
    return 'failed';
  }
  log.info(`job ${id}: done`);
  return 'ack';
}

/**
 * After a run broke off (not from outside): an outage hands the job back uncounted; any
 * other failure releases it and requeues the message after a backoff.
 */
async function afterFailure(d: WorkerDeps, id: string, started: StartedJob, log: Logger, err: unknown, signal: AbortSignal, backoff: (attempt: number) => number): Promise<Ending> {
  const why = (err as Error).message;
  const outage = await classify(err, d.breaker);
  if (outage) return handBack({ ...d, log }, id, started.lease, why, outage, signal).then((r) => (r === 'ack' ? 'handed-back' : r));
  log.warn({ err }, `job ${id}: handing back after attempt ${started.attempt}: ${why}`);
  await retrying(() => d.client.release(id, started.lease, why), signal, d.retryMs)
    .catch((e: Error) => log.error({ err: e }, `job ${id}: release failed: ${e.message}`));
  if (!signal.aborted) await sleep(backoff(started.attempt), undefined, { signal }).catch(() => undefined);
  return 'requeue';
}

/** Asks the frontend for a lease on the job; what to do with the message if there is none. */
async function take(d: WorkerDeps, id: string, signal: AbortSignal, backoff: (attempt: number) => number): Promise<StartedJob | Disposition> {
  // Delivered as the breaker opened: give it back uncounted (the consumer pauses now).
  if (d.breaker.isOpen && !(await d.breaker.waitClosed(signal, Math.min(5000, d.holdMs ?? 5000)))) return 'republish';
  try {
    const started = await d.client.start(id, d.node);
    if (typeof started !== 'string') return started;
    jobLogger(d.log, { jobid: id, engine: d.engine.name }).info(`job ${id}: not started (${started})`);
    return 'ack';
  } catch (err) {
    jobLogger(d.log, { jobid: id, engine: d.engine.name }).warn({ err }, `job ${id}: cannot start: ${(err as Error).message}`);
    if (err instanceof FrontendUnavailable) {
      d.breaker.trip('frontend', (err as Error).message);
      return 'republish';
    }
    await sleep(backoff(1), undefined, { signal }).catch(() => undefined);
    return 'requeue';
  }
}

/**
 * Tells an outage from a failure that may be the job's: a shutdown, the frontend failing
 * (by construction never the job's doing), a daemon restart that lost how the run ended, or
 * Docker not answering a probe right now.
 */
async function classify(err: unknown, breaker: Breaker): Promise<Outage | undefined> {
  if (err instanceof RunAborted) return 'shutdown';
  if (err instanceof DaemonRestarted) return 'docker';
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof FrontendUnavailable) {
      await breaker.isDown('frontend');
      return 'frontend';
    }
  }
  if (err instanceof InfrastructureError && (await breaker.isDown('docker'))) return 'docker';
  return undefined;
}

/**
 * Hands a job back after an outage: the frontend gives the attempt back and publishes a
 * fresh message, so this one is acked. While the frontend is away the message is held
 * (bounded), then given back fresh; the job's lease expires meanwhile and the reaper
 * takes it over.
 */
async function handBack(d: WorkerDeps, id: string, lease: string, why: string, outage: Outage, signal: AbortSignal): Promise<Disposition> {
  d.log.warn({ outage }, `job ${id}: handing back (${outage === 'shutdown' ? 'shutting down' : `${outage} unavailable`}; the attempt does not count): ${why}`);
  const release = (): Promise<unknown> => retrying(() => d.client.release(id, lease, why, true), signal, d.retryMs).catch((e: Error) => e);
  let r = await release();
  if (r instanceof FrontendUnavailable && !signal.aborted) {
    d.breaker.trip('frontend', r.message);
    if (await d.breaker.waitClosed(signal, d.holdMs ?? 120_000, 'frontend')) r = await release();
  }
  if (r instanceof Error) {
    d.log.error({ err: r }, `job ${id}: release failed: ${r.message}`);
    return 'republish';
  }
  return 'ack';
}

/**
 * Retries a report while the frontend is unavailable (it may be restarting): a finished
 * job's outcome is worth a few seconds of waiting rather than a re-run.
 */
async function retrying<T>(fn: () => Promise<T>, signal: AbortSignal, baseMs = 500, tries = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof FrontendUnavailable) || i >= tries || signal.aborted) throw err;
      await sleep(baseMs * 2 ** i, undefined, { signal }).catch(() => undefined);
    }
  }
}

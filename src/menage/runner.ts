import { DaemonRestarted, InfrastructureError, RunAborted } from '../errors.js';
import type Docker from 'dockerode';
import type { Container } from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { Engine } from '../engines/engines.js';
import { openCappedVolume } from './capped-volume.js';
import { RemovalQueue } from './container-removal.js';
import { buildContainerSpec, type RunIdentity } from './container-spec.js';
import { describe, readDaemonFacts, RepoDigests, type Containment, type DaemonFacts } from './containment-report.js';
import { REASONS } from './failure-reasons.js';
import { LOST_EXIT_CODE, waitFor, type Ending } from './container-wait.js';
import { LogTail } from './log-tail.js';
import type { Logger } from '../log/logger.js';
import { labelFinder, WarmPool } from './warm-pool.js';
import { watchOom, type OomWatch } from './oom-watch.js';
import { asInfra, infra } from './infra-errors.js';
import { packInput } from './result-archive.js';
import { collectWithRetries } from './result-collect.js';

export type { Containment } from './containment-report.js';
export { removeContainer } from './container-removal.js';

/** One job to run, with the ways to get its input and hand over its result. */
export interface RunRequest {
  jobId: string;
  attempt: number;
  node: string;
  openInput: () => Promise<{ stream: Readable; size: number }>;
  /**
   * Streams the result to the frontend; resolves once it is recorded. `log` is the engine's
   * complete (capped) output: the container has exited before its result is collected.
   */
  deliver: (body: Readable, size: number, containment: Containment, log: string) => Promise<void>;
  signal: AbortSignal;
  /** Told how long each container stage took (menage's metrics). */
  stage?: (stage: ContainerStage, seconds: number) => void;
  /**
   * Records with the frontend that a warm-pool container (no job label) runs the job; it
   * settles before the container starts. Without it the job never takes a pooled container.
   */
  bindContainer?: (containerId: string) => Promise<void>;
}

/**
 * The stages of a run that the runner times: create (volume and container; the input's fetch
 * overlaps it), copy_in (until the input is copied in, the settings read back and the output
 * attached: they overlap), run (start to exit), collect (result read until its delivery starts).
 */
export type ContainerStage = 'create' | 'copy_in' | 'run' | 'collect';

/** How a run ended: the result was delivered, or the engine failed with a reason. */
export type RunOutcome =
  | { ok: true; containment: Containment }
  | { ok: false; reason: string; detail: string; containment: Containment };

/** Runs a job's engine container. The one module a warm pool could replace. */
export interface ContainerDispatcher {
  run(engine: Engine, request: RunRequest): Promise<RunOutcome>;
  /** Finishes what runs still do after their outcome (removals); at shutdown, after the slots close. */
  close?(): Promise<void>;
  /** An engine (version) starts taking jobs: its warm pool, if it has one, fills. */
  prepare?(engine: Engine): void;
  /** An engine was removed: its idle pooled containers go. */
  retire?(name: string): void;
}

/** Runner tuning; the defaults suit production. */
export interface RunnerOptions {
  /** Added to an engine's timeout for the deadline label others may kill by. */
  graceMs?: number;
  /** How long a timed-out engine gets between SIGTERM and SIGKILL. */
  stopGraceMs?: number;
  /** Image of the container that holds a size-capped volume mounted (engines with `volumesize`). */
  holderImage?: string;
  /**
   * Return a run's outcome before its container is removed (the removal goes on beside the
   * next job; close() waits for it). menage's own runner does; the conformance kit's waits.
   */
  removeBehind?: boolean;
  /** Told of every Docker call that failed, by operation (menage's metrics). */
  dockerError?: (operation: string) => void;
  /** Keep engines' warm pools (engines.json `warm`): menage's own runner does, on its node. */
  warm?: { node: string; log: Logger; maxIdleMs?: number };
}

/** Dispatches each job to a fresh container, removed with its volume whatever happens. */
export class DockerRunner implements ContainerDispatcher {
  readonly #docker: Docker;
  readonly #graceMs: number;
  readonly #stopGraceMs: number;
  readonly #holderImage: string | undefined;
  readonly #removeBehind: boolean;
  readonly #dockerError: ((operation: string) => void) | undefined;
  readonly #deployment: string;
  #daemon: Promise<DaemonFacts | undefined> | undefined;
  readonly #digests: RepoDigests;
  readonly #removals: RemovalQueue;
  readonly #pool: WarmPool | undefined;

  constructor(docker: Docker, deployment: string, options: RunnerOptions | number = {}) {
    const o = typeof options === 'number' ? { graceMs: options } : options;
    this.#docker = docker;
    this.#digests = new RepoDigests(docker);
    this.#deployment = deployment;
    this.#graceMs = o.graceMs ?? 60_000;
    this.#stopGraceMs = o.stopGraceMs ?? 3_000;
    this.#holderImage = o.holderImage;
    this.#removeBehind = o.removeBehind ?? false;
    this.#dockerError = o.dockerError;
    this.#removals = new RemovalQueue({
      onGiveUp: (container) => {
        o.dockerError?.('remove the container');
        o.warm?.log.warn({ container: container.id.slice(0, 12) }, `cannot remove container ${container.id.slice(0, 12)}: Docker refused it or did not answer in time; the orphan sweeper removes it past its deadline`);
      },
    });
    this.#pool = o.warm && new WarmPool({
      deployment, node: o.warm.node, log: o.warm.log, graceMs: this.#graceMs, ...(o.warm.maxIdleMs ? { maxIdleMs: o.warm.maxIdleMs } : {}),
      create: (spec) => this.#infra('create the container', () => this.#docker.createContainer(spec)),
      describe: (container) => this.#describe(container),
      remove: (container) => void this.#removals.add(container, undefined),
      find: labelFinder(docker, deployment),
    });
  }

  prepare(engine: Engine): void {
    if (engine.warm) this.#pool?.prepare(engine);
    else this.#pool?.retire(engine.name);
  }

  retire(name: string): void {
    this.#pool?.retire(name);
  }

  /** A Docker call: its failure is an InfrastructureError, and counted. */
  async #infra<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.#dockerError?.(what);
      throw asInfra(what, err);
    }
  }

  /** What the daemon says about itself (runtimes, userns, AppArmor), asked once. */
  #daemonFacts(): Promise<DaemonFacts | undefined> {
    this.#daemon ??= readDaemonFacts(this.#docker).catch(() => undefined);
    return this.#daemon;
  }

  async run(engine: Engine, req: RunRequest): Promise<RunOutcome> {
    const daemon = await this.#daemonFacts();
    await this.#removals.room();
    const runtime = engine.containment.runtime;
    if (runtime && daemon && !daemon.runtimes.includes(runtime)) {
      throw new InfrastructureError(`engine "${engine.name}" wants runtime "${runtime}", which this Docker engine does not have (${daemon.runtimes.join(', ')})`);
    }
    const run: RunIdentity = {
      deployment: this.#deployment, jobId: req.jobId, attempt: req.attempt, node: req.node, deadline: Date.now() + engine.timeoutMs + this.#graceMs,
    };
    // The input's request to the frontend overlaps the daemon's create.
    const lap = stopwatch(req);
    const input = infra('fetch the input', req.openInput);
    input.catch(() => undefined); // awaited in #runIn, or dropped below
    const dropInput = (): void => void input.then((i) => i.stream.destroy(), () => undefined);
    const pooled = req.bindContainer && engine.warm ? this.#pool?.take(engine) : undefined;
    if (pooled) {
      lap('create');
      const bound = req.bindContainer!(pooled.container.id);
      return this.#runThenRemove(pooled.container, undefined, dropInput, () => this.#runIn(pooled.container, engine, req, { input, containment: pooled.containment, bound }));
    }
    const volume = engine.containment.volumeBytes
      ? await this.#infra('prepare the size-capped volume', () => openCappedVolume(this.#docker, engine, run, this.#holderImage)).catch((err: unknown) => {
        dropInput();
        throw err;
      }) : undefined;
    let container: Container;
    try {
      container = await this.#infra('create the container', () => this.#docker.createContainer(buildContainerSpec(engine, run, volume?.name)));
    } catch (err) {
      dropInput();
      await volume?.close();
      throw err;
    }
    lap('create');
    return this.#runThenRemove(container, volume, dropInput, () => this.#runIn(container, engine, req, { input, containment: this.#describe(container) }));
  }

  /** Runs `body` in a created container, then drops the input and removes the container (behind, for menage). */
  async #runThenRemove(container: Container, volume: { close(): Promise<void> } | undefined, dropInput: () => void,
    body: () => Promise<RunOutcome>): Promise<RunOutcome> {
    try {
      return await body();
    } finally {
      dropInput();
      const removal = this.#removals.add(container, volume);
      if (!this.#removeBehind) await removal;
    }
  }

  /** Removes the idle pooled containers and waits for the removals still under way (shutdown); safe to call twice. */
  close(): Promise<void> {
    this.#pool?.close();
    return this.#removals.close();
  }

  /**
   * Runs a created container: `input` is being fetched, `containment` read back, and `bound`
   * (a pooled container) being recorded with the frontend; all settle before the start.
   */
  async #runIn(container: Container, engine: Engine, req: RunRequest, prepared: Prepared): Promise<RunOutcome> {
    const lap = stopwatch(req);
    const log = new LogTail(engine.containment.logLimit);
    // Copying the input in, reading the container's settings back, attaching and watching
    // for the OOM killer are independent: the daemon does them at once. All settle before
    // the container starts.
    const oomWatch = watchOom(this.#docker, container.id).catch(() => undefined);
    const steps = await Promise.allSettled([
      prepared.input.then((input) => this.#infra('copy the input in', async () => container.putArchive(
        packInput(engine.inputfilename, input.stream, input.size, owner(engine.user)), { path: engine.mountpoint }))),
      prepared.containment,
      this.#infra('attach', () => container.attach({ stream: true, stdout: true, stderr: true })),
      prepared.bound ?? Promise.resolve(),
    ] as const);
    const [copied, described, attaching] = steps;
    const failed = steps.find((x) => x.status === 'rejected');
    const oom = await oomWatch;
    if (failed) {
      oom?.close();
      if (attaching.status === 'fulfilled') (attaching.value as unknown as Readable).destroy();
      throw (copied.status === 'rejected' ? copied : failed).reason;
    }
    const containment = (described as PromiseFulfilledResult<Containment>).value;
    const attached = (attaching as PromiseFulfilledResult<NodeJS.ReadWriteStream>).value;
    container.modem.demuxStream(attached, log.writable(), log.writable());
    const outputEnded = streamEnd(attached as unknown as Readable);
    lap('copy_in');
    const { ended, exitCode, oomKilled } = await this.#execute(container, engine, req.signal, oom);
    lap('run');
    // The daemon still sends what the engine wrote last after the exit: read it (bounded),
    // or the kept log misses its end under load.
    if (ended === 'exited') await Promise.race([outputEnded, sleep(OUTPUT_DRAIN_MS)]);
    (attached as unknown as Readable).destroy();
    if (ended === 'aborted') throw new RunAborted('the run was interrupted (shutdown)');
    const fail = (reason: string): RunOutcome => ({ ok: false, reason, detail: log.text(), containment });
    if (ended !== 'exited') {
      const how = ended === 'killed' ? `; it ignored SIGTERM for ${this.#stopGraceMs / 1000} s and was killed` : '';
      return fail(`${REASONS.timeout}: stopped after ${engine.timeoutMs / 1000} s${how}`);
    }
    const limit = `limit ${engine.containment.memoryBytes} bytes`;
    if (oomKilled) return fail(`${REASONS.outOfMemory}: the engine was OOM-killed (${limit})`);
    // Docker 20.10 on cgroup v1 sometimes reports neither OOMKilled nor an oom event. A
    // SIGKILL that menage did not send (a policy kill fails the job first) is the OOM killer.
    if (exitCode === 137) return fail(`${REASONS.outOfMemory}: the engine was killed by SIGKILL (exit code 137) that menage did not send, the mark of the OOM killer (${limit})`);
    if (exitCode !== 0) return fail(`${REASONS.exitCode} ${exitCode}`);
    lap();
    const refused = await collectWithRetries(container, engine, req.signal, (body, size) => {
      lap('collect');
      return req.deliver(body, size, containment, log.text());
    });
    return refused ? fail(refused) : { ok: true, containment };
  }

  /** Starts the container and waits for its end: how it ended, its exit code, whether it was OOM-killed. */
  async #execute(container: Container, engine: Engine, signal: AbortSignal, oom: OomWatch | undefined): Promise<{ ended: Ending; exitCode: number; oomKilled: boolean }> {
    try {
      await this.#infra('start the container', () => container.start());
      const { ended, statusSeen } = await waitFor(container, engine.timeoutMs, this.#stopGraceMs, signal);
      if (ended === 'aborted') return { ended, exitCode: -1, oomKilled: false };
      const state = (await this.#infra('inspect', () => container.inspect())).State;
      // A daemon that went away as the engine ended restores the container as exited 255: its
      // real status is lost. Unless the daemon's wait call reported that 255 itself, it is
      // not known to be the engine's: run it again (an outage, uncounted).
      if (ended === 'exited' && !statusSeen && state.ExitCode === LOST_EXIT_CODE) {
        throw new DaemonRestarted(`exit code ${LOST_EXIT_CODE} seen only after the Docker daemon was away: the code a restarted daemon gives a container whose end it lost, so the engine's real status is unknown`);
      }
      // A SIGKILL we did not send is most likely the OOM killer, whose event may trail the exit.
      const late = ended === 'exited' && state.ExitCode === 137 ? 2000 : 0;
      const oomKilled = state.OOMKilled || (await oom?.seen(late)) === true;
      return { ended, exitCode: state.ExitCode, oomKilled };
    } finally {
      oom?.close();
    }
  }

  async #describe(container: Container): Promise<Containment> {
    const daemon = await this.#daemonFacts();
    const info = await this.#infra('inspect', () => container.inspect());
    return describe(info, daemon, await this.#digests.of(info.Image));
  }
}

/** What a run starts with besides its container: see #runIn. */
interface Prepared {
  input: Promise<{ stream: Readable; size: number }>;
  containment: Promise<Containment>;
  bound?: Promise<void>;
}

/** How long the output of an exited engine may take to arrive in full. */
const OUTPUT_DRAIN_MS = 5000;

/** Resolves when a stream has ended, closed or failed. */
function streamEnd(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', () => resolve());
  });
}

function owner(user: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const uid = /^\d+$/.test(u ?? '') ? Number(u) : 0;
  return { uid, gid: /^\d+$/.test(g ?? '') ? Number(g) : uid };
}

/**
 * Times consecutive stages of one run: `lap(stage)` reports the time since the last lap,
 * `lap()` only restarts the clock (time not counted in any stage).
 */
function stopwatch(req: RunRequest): (stage?: ContainerStage) => void {
  let at = performance.now();
  return (stage) => {
    const now = performance.now();
    if (stage) req.stage?.(stage, (now - at) / 1000);
    at = now;
  };
}

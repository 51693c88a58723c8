import type Docker from 'dockerode';
import type { Container, ContainerInspectInfo } from 'dockerode';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type { Engine } from '../engines/engines.js';
import { buildContainerSpec } from './container-spec.js';
import { LogTail } from './log-tail.js';
import { packInput, readResultArchive, ResultRefused } from './result-archive.js';

/** One job to run, with the ways to get its input and hand over its result. */
export interface RunRequest {
  jobId: string;
  attempt: number;
  node: string;
  openInput: () => Promise<{ stream: Readable; size: number }>;
  /** Streams the result to the frontend; resolves once it is recorded. */
  deliver: (body: Readable, size: number, containment: Containment) => Promise<void>;
  signal: AbortSignal;
}

/** The controls that were in force for a container, read back from Docker. */
export type Containment = Record<string, unknown>;

/** How a run ended: the result was delivered, or the engine failed with a reason. */
export type RunOutcome =
  | { ok: true; containment: Containment; log: string }
  | { ok: false; reason: string; detail: string; containment: Containment };

/** Runs a job's engine container. The one module a warm pool could replace. */
export interface ContainerDispatcher {
  run(engine: Engine, request: RunRequest): Promise<RunOutcome>;
}

/** The Docker daemon or the run was interrupted: not the engine's fault, hand the job back. */
export class InfrastructureError extends Error {}

/** Thrown when the run was aborted (shutdown); the job goes back to the queue. */
export class RunAborted extends InfrastructureError {}

/** Dispatches each job to a fresh container, removed with its volume whatever happens. */
export class DockerRunner implements ContainerDispatcher {
  readonly #docker: Docker;
  readonly #graceMs: number;
  readonly #deployment: string;
  #userns: boolean | undefined;

  constructor(docker: Docker, deployment: string, graceMs = 60_000) {
    this.#docker = docker;
    this.#deployment = deployment;
    this.#graceMs = graceMs;
  }

  async run(engine: Engine, req: RunRequest): Promise<RunOutcome> {
    this.#userns ??= await this.#docker.info().then((i: { SecurityOptions?: string[] }) =>
      (i.SecurityOptions ?? []).some((o) => o.includes('name=userns'))).catch(() => undefined);
    const spec = buildContainerSpec(engine, {
      deployment: this.#deployment, jobId: req.jobId, attempt: req.attempt, node: req.node, deadline: Date.now() + engine.timeoutMs + this.#graceMs,
    });
    const container = await infra('create the container', () => this.#docker.createContainer(spec));
    try {
      return await this.#runIn(container, engine, req);
    } finally {
      await removeContainer(container);
    }
  }

  async #runIn(container: Container, engine: Engine, req: RunRequest): Promise<RunOutcome> {
    const input = await infra('fetch the input', req.openInput);
    await infra('copy the input in', async () => container.putArchive(
      packInput(engine.inputfilename, input.stream, input.size, owner(engine.user)), { path: engine.mountpoint }));
    const containment = describe(await infra('inspect', () => container.inspect()), this.#userns);
    const log = new LogTail(engine.containment.logLimit);
    const attached = await infra('attach', () => container.attach({ stream: true, stdout: true, stderr: true }));
    container.modem.demuxStream(attached, log.writable(), log.writable());
    await infra('start the container', () => container.start());
    const ended = await waitFor(container, engine.timeoutMs, req.signal);
    (attached as unknown as Readable).destroy();
    if (ended === 'aborted') throw new RunAborted('the run was interrupted (shutdown)');
    const state = (await infra('inspect', () => container.inspect())).State;
    const fail = (reason: string): RunOutcome => ({ ok: false, reason, detail: log.text(), containment });
    if (ended === 'timeout') return fail(`timeout: killed after ${engine.timeoutMs / 1000} s`);
    if (state.OOMKilled) return fail('out of memory: the engine was OOM-killed');
    if (state.ExitCode !== 0) return fail(`exit code ${state.ExitCode}`);
    try {
      const archive = await container.getArchive({ path: posix.join(engine.mountpoint, 'result') });
      await readResultArchive(archive as Readable, engine.containment.resultLimit,
        (body, size) => req.deliver(body, size, containment));
    } catch (err) {
      if (err instanceof ResultRefused) return fail(err.message);
      if ((err as { statusCode?: number }).statusCode === 404) return fail('no result file');
      throw asInfra('collect the result', err);
    }
    return { ok: true, containment, log: log.text() };
  }
}

async function waitFor(container: Container, timeoutMs: number, signal: AbortSignal): Promise<'exited' | 'timeout' | 'aborted'> {
  const exited = container.wait().then(() => 'exited' as const);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([exited, timeout, aborted]);
    if (first !== 'exited') {
      await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      await Promise.race([exited.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    }
    return first;
  } catch (err) {
    throw asInfra('wait for the container', err);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** Removes a container and its anonymous volume; retries briefly (the daemon may be busy). */
export async function removeContainer(container: Container): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  }
}

async function infra<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asInfra(what, err);
  }
}

function asInfra(what: string, err: unknown): InfrastructureError {
  if (err instanceof InfrastructureError) return err;
  return new InfrastructureError(`cannot ${what}: ${(err as Error).message}`, { cause: err });
}

function owner(user: string): { uid: number; gid: number } {
  const [u, g] = user.split(':');
  const uid = /^\d+$/.test(u ?? '') ? Number(u) : 0;
  return { uid, gid: /^\d+$/.test(g ?? '') ? Number(g) : uid };
}

/** The effective controls of a container, from `docker inspect` (not from config). */
export function describe(info: ContainerInspectInfo, userns: boolean | undefined): Containment {
  const h = info.HostConfig as ContainerInspectInfo['HostConfig'] & Record<string, unknown>;
  const opts = (h.SecurityOpt as string[] | null) ?? [];
  return {
    network: h.NetworkMode,
    readonlyRootfs: h.ReadonlyRootfs ?? false,
    capDrop: h.CapDrop ?? [],
    capAdd: h.CapAdd ?? [],
    privileged: h.Privileged ?? false,
    noNewPrivileges: opts.some((o) => /^no-new-privileges(?::true|=true)?$/.test(o)),
    userns: h.UsernsMode === 'host' ? 'host (not remapped)' : userns ? 'remapped' : 'not remapped',
    user: info.Config.User,
    pidsLimit: h.PidsLimit ?? null,
    memoryBytes: h.Memory ?? 0,
    memorySwapBytes: h.MemorySwap ?? 0,
    nanoCpus: h.NanoCpus ?? 0,
    tmpfs: h.Tmpfs ?? {},
    binds: h.Binds ?? [],
    apparmorProfile: info.AppArmorProfile || null,
    seccomp: opts.find((o) => o.startsWith('seccomp'))?.replace(/^seccomp[=:]/, '') ?? 'docker default',
    runtime: h.Runtime ?? 'runc',
    image: info.Config.Image,
    imageId: info.Image,
  };
}

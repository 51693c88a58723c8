import type { ContainerCreateOptions, MountSettings } from 'dockerode';
import { LABELS } from '../contract/labels.js';
import type { Engine } from '../engines/engines.js';

/** What identifies one run of one job. */
export interface RunIdentity {
  /** The deployment (queue prefix): menage only ever cleans up its own deployment's containers. */
  deployment: string;
  jobId: string;
  attempt: number;
  node: string;
  /** Epoch milliseconds after which the container is overdue and may be killed by anyone. */
  deadline: number;
}

/**
 * What identifies a warm-pool container (see warm-pool.ts): made before its job is known, so
 * it carries `role=pool` and no job or attempt label; the frontend records which job it ran.
 * `token` is unique to its create call (LABELS.poolToken), left out of the pool's spec key.
 */
export type PoolIdentity = Omit<RunIdentity, 'jobId' | 'attempt'> & { pool: true; token?: string };

/** The labels of a run's container: the job's, or a pool container's. */
function runLabels(engine: Engine, run: RunIdentity | PoolIdentity): Record<string, string> {
  const common = { [LABELS.managed]: 'true', [LABELS.deployment]: run.deployment, [LABELS.engine]: engine.name, [LABELS.node]: run.node, [LABELS.deadline]: String(run.deadline) };
  if ('pool' in run) return { ...common, [LABELS.role]: 'pool', ...(run.token ? { [LABELS.poolToken]: run.token } : {}) };
  return { ...common, [LABELS.job]: run.jobId, [LABELS.attempt]: String(run.attempt) };
}

/**
 * Builds the create options for one job's engine container: hardened by default (no
 * network, read-only root, every capability dropped, no-new-privileges, pids/memory/cpu
 * limits, no host binds or namespaces, no /dev/shm), the mountpoint an anonymous volume,
 * stdout/stderr not logged by the daemon (menage reads them from the attach stream, capped).
 */
export function buildContainerSpec(engine: Engine, run: RunIdentity | PoolIdentity, cappedVolume?: string): ContainerCreateOptions {
  const c = engine.containment;
  const securityOpt = ['no-new-privileges'];
  if (c.apparmor) securityOpt.push(`apparmor=${c.apparmor}`);
  // Docker's API takes the profile's JSON itself, not a path (the CLI reads the file).
  if (c.seccomp) securityOpt.push(`seccomp=${c.seccomp.json}`);
  return {
    Image: engine.image,
    Cmd: [...engine.cmd],
    User: engine.user,
    WorkingDir: engine.mountpoint,
    Labels: runLabels(engine, run),
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: c.network,
      ReadonlyRootfs: c.readonly,
      CapDrop: ['ALL'],
      CapAdd: [],
      Privileged: false,
      SecurityOpt: securityOpt,
      PidsLimit: c.pids,
      Memory: c.memoryBytes,
      MemorySwap: c.memoryBytes,
      NanoCpus: c.nanoCpus,
      Tmpfs: { ...c.tmpfs },
      Binds: [],
      // The engine's read-only named volumes (engines.json `volumes`, e.g. rules) after its input.
      Mounts: [inputMount(engine, run, cappedVolume), ...Object.entries(c.volumes ?? {}).map(([target, name]): MountSettings => ({ Type: 'volume', Source: name, Target: target, ReadOnly: true }))],
      // No /dev/shm: the volume and the configured tmpfs mounts stay the only writable places
      // (an engine that needs shared memory declares a size-capped tmpfs at /dev/shm).
      IpcMode: 'none',
      PidMode: '',
      UTSMode: '',
      LogConfig: { Type: 'none', Config: {} },
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      ...(c.runtime ? { Runtime: c.runtime } : {}),
    },
  };
}

/**
 * The input volume: a size-capped volume prepared for the job (see capped-volume.ts), or an
 * anonymous one (removed with the container), labelled so that one left behind can be
 * found and removed by the orphan sweeper.
 */
function inputMount(engine: Engine, run: RunIdentity | PoolIdentity, cappedVolume: string | undefined): MountSettings {
  if (cappedVolume) return { Type: 'volume', Source: cappedVolume, Target: engine.mountpoint, ReadOnly: false };
  return {
    Type: 'volume', Source: '', Target: engine.mountpoint, ReadOnly: false,
    VolumeOptions: {
      NoCopy: false, // the image's mountpoint directory (owner, mode) seeds the volume
      Labels: { [LABELS.managed]: 'true', [LABELS.deployment]: run.deployment, ...('pool' in run ? { [LABELS.role]: 'pool' } : { [LABELS.job]: run.jobId }) },
      DriverConfig: { Name: 'local', Options: {} },
    },
  };
}

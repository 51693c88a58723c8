import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engines/engines.js';
import { LABELS } from '../contract/labels.js';
import type { RunIdentity } from './container-spec.js';
import { removeContainer } from './container-removal.js';

/** The image of the holder container (busybox `sleep`): built offline by engines/build. */
export const HOLDER_IMAGE = 'menagerie/busybox:latest';

/** A size-capped input volume for one job, and how to get rid of it. */
export interface CappedVolume {
  name: string;
  close(): Promise<void>;
}

/**
 * Creates a tmpfs-backed volume of the engine's `volumesize` for one job. Docker unmounts
 * (and so empties) such a volume whenever no running container uses it, and the input is
 * copied in before the engine starts, the result read after it stopped: a tiny holder
 * container keeps it mounted for the job's lifetime. Both are labelled like the engine's
 * container, so the orphan sweeper finds them if menage dies.
 */
export async function openCappedVolume(docker: Docker, engine: Engine, run: RunIdentity, holderImage = HOLDER_IMAGE): Promise<CappedVolume> {
  const size = engine.containment.volumeBytes;
  if (!size) throw new Error(`engine "${engine.name}" has no volumesize`);
  const labels = { [LABELS.managed]: 'true', [LABELS.deployment]: run.deployment, [LABELS.job]: run.jobId };
  const name = `menagerie-${run.jobId}-${run.attempt}-${randomBytes(6).toString('hex')}`;
  await docker.createVolume({
    Name: name, Driver: 'local', Labels: labels,
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: `size=${size},mode=1777,nosuid,nodev,noexec` },
  });
  const volume = docker.getVolume(name);
  let holder: Docker.Container | undefined;
  const close = async (): Promise<void> => {
    if (holder) await removeContainer(holder);
    for (let i = 0; i < 5; i++) {
      const gone = await volume.remove().then(() => true, (err: { statusCode?: number }) => err.statusCode === 404);
      if (gone) return;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  };
  try {
    holder = await docker.createContainer(holderSpec(engine, run, name, holderImage));
    await holder.start();
  } catch (err) {
    await close();
    throw err;
  }
  return { name, close };
}

/** The holder: sleeps (never longer than the job's deadline plus a minute), confined like an engine. */
function holderSpec(engine: Engine, run: RunIdentity, volume: string, image: string): Docker.ContainerCreateOptions {
  const seconds = Math.max(60, Math.ceil((run.deadline - Date.now()) / 1000) + 60);
  return {
    Image: image, Cmd: ['sleep', String(seconds)], User: '65534:65534',
    Labels: {
      [LABELS.managed]: 'true', [LABELS.deployment]: run.deployment, [LABELS.job]: run.jobId, [LABELS.engine]: engine.name,
      [LABELS.attempt]: String(run.attempt), [LABELS.node]: run.node, [LABELS.deadline]: String(run.deadline), [LABELS.role]: 'volume-holder',
    },
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], CapAdd: [], Privileged: false, SecurityOpt: ['no-new-privileges'],
      PidsLimit: 4, Memory: 16 * 1024 * 1024, MemorySwap: 16 * 1024 * 1024, NanoCpus: 1e8, IpcMode: 'none', Binds: [],
      Mounts: [{ Type: 'volume', Source: volume, Target: '/hold', ReadOnly: true }],
      LogConfig: { Type: 'none', Config: {} }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, AutoRemove: false,
    },
  };
}

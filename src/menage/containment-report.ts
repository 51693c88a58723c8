import type Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { createHash } from 'node:crypto';
import type { Containment } from '../contract/internal-api.js';
import { LABELS } from '../contract/labels.js';

/** The controls that were in force for a container and the image that ran it (contract). */
export type { Containment };

/** What the Docker daemon itself enforces, from `docker info` (read once per runner). */
export interface DaemonFacts {
  userns: boolean;
  seccomp: boolean;
  apparmor: boolean;
  runtimes: string[];
  defaultRuntime: string;
}

/** Reads the daemon's security options and runtimes. */
export async function readDaemonFacts(docker: Docker): Promise<DaemonFacts> {
  const info = (await docker.info()) as { SecurityOptions?: string[]; Runtimes?: Record<string, unknown>; DefaultRuntime?: string };
  const opts = info.SecurityOptions ?? [];
  const has = (name: string): boolean => opts.some((o) => o === `name=${name}` || o.startsWith(`name=${name},`));
  return {
    userns: has('userns'),
    seccomp: has('seccomp'),
    apparmor: has('apparmor'),
    runtimes: Object.keys(info.Runtimes ?? {}),
    defaultRuntime: info.DefaultRuntime ?? 'runc',
  };
}

/** The effective controls of a container, from `docker inspect` (not from config). */
export function describe(info: ContainerInspectInfo, daemon: DaemonFacts | undefined, repoDigests: string[] = []): Containment {
  const h = info.HostConfig as ContainerInspectInfo['HostConfig'] & Record<string, unknown>;
  const opts = (h.SecurityOpt as string[] | null) ?? [];
  return {
    network: h.NetworkMode,
    readonlyRootfs: h.ReadonlyRootfs ?? false,
    capDrop: h.CapDrop ?? [],
    capAdd: h.CapAdd ?? [],
    privileged: h.Privileged ?? false,
    noNewPrivileges: opts.some((o) => /^no-new-privileges(?::true|=true)?$/.test(o)),
    userns: usernsOf(h.UsernsMode as string | undefined, daemon),
    user: info.Config.User,
    pidMode: h.PidMode || 'private',
    ipcMode: h.IpcMode || 'private',
    utsMode: h.UTSMode || 'private',
    pidsLimit: h.PidsLimit ?? null,
    memoryBytes: h.Memory ?? 0,
    memorySwapBytes: h.MemorySwap ?? 0,
    nanoCpus: h.NanoCpus ?? 0,
    tmpfs: h.Tmpfs ?? {},
    binds: h.Binds ?? [],
    mounts: (info.Mounts ?? []).map((m) => ({ type: m.Type, destination: m.Destination, rw: m.RW })),
    devices: (h.Devices as unknown[] | null) ?? [],
    apparmorProfile: apparmorOf(info.AppArmorProfile, opts, daemon),
    seccomp: seccompOf(opts, daemon),
    runtime: (h.Runtime as string | undefined) || daemon?.defaultRuntime || 'runc',
    image: info.Config.Image,
    imageId: info.Image,
    repoDigests,
    // Created ahead by the warm pool (engines.json `warm`), with the same settings as any job's.
    pooled: info.Config.Labels?.[LABELS.role] === 'pool',
  };
}

function usernsOf(mode: string | undefined, daemon: DaemonFacts | undefined): string {
  if (mode === 'host') return 'host (not remapped)';
  if (!daemon) return 'unknown';
  return daemon.userns ? 'remapped' : 'not remapped';
}

function apparmorOf(effective: string, opts: string[], daemon: DaemonFacts | undefined): string | null {
  if (effective) return effective;
  const asked = opts.find((o) => /^apparmor[=:]/.test(o))?.replace(/^apparmor[=:]/, '');
  if (daemon && !daemon.apparmor) return asked ? `none: host has no AppArmor (asked for ${asked})` : 'none: host has no AppArmor';
  return asked ?? null;
}

function seccompOf(opts: string[], daemon: DaemonFacts | undefined): string {
  const given = opts.find((o) => /^seccomp[=:]/.test(o))?.replace(/^seccomp[=:]/, '');
  if (daemon && !daemon.seccomp) return 'none: daemon without seccomp';
  if (given === undefined) return 'docker default';
  if (given === 'unconfined') return 'unconfined';
  return `custom profile sha256:${createHash('sha256').update(given).digest('hex')}`;
}

/**
 * Images' repository digests, asked once per image id: an id names the image's content, and
 * its digests change only when it is pushed or pulled under a new name (a reload to a new
 * version brings a new id). A failed lookup is not kept.
 */
export class RepoDigests {
  readonly #docker: Docker;
  readonly #known = new Map<string, string[]>();

  constructor(docker: Docker) {
    this.#docker = docker;
  }

  async of(imageId: string): Promise<string[]> {
    const known = this.#known.get(imageId);
    if (known) return known;
    const image = await this.#docker.getImage(imageId).inspect().catch(() => undefined);
    if (!image) return [];
    if (this.#known.size >= 64) this.#known.clear();
    this.#known.set(imageId, image.RepoDigests ?? []);
    return image.RepoDigests ?? [];
  }
}

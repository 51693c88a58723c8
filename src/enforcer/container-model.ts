import type { ContainerCreateOptions, ContainerInspectInfo } from 'dockerode';
import { InvalidError } from '../errors.js';

/** One mount as rules see it, whatever way it was requested. */
export interface MountModel {
  readonly type: string;
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/**
 * The one container model rules see, normalised from an inspect result or from a create
 * request body. Docker's defaults are applied (an absent Memory is 0 = unlimited, an absent
 * NetworkMode is "bridge"), so a field left out of a request is a value, not an accident.
 */
export interface ContainerModel {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  /** Image id (sha256:...) when known; a create request only names the image. */
  readonly imageId?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly user: string;
  readonly cmd: readonly string[];
  readonly env: readonly string[];
  readonly running: boolean;
  /** Epoch milliseconds of the last start, 0 when never started. */
  readonly startedAt: number;
  readonly privileged: boolean;
  readonly readonlyRootfs: boolean;
  readonly networkMode: string;
  readonly pidMode: string;
  readonly ipcMode: string;
  readonly utsMode: string;
  readonly usernsMode: string;
  readonly memory: number;
  readonly memorySwap: number;
  readonly nanoCpus: number;
  readonly cpuQuota: number;
  /** 0 when unlimited (Docker reports null, 0 or -1). */
  readonly pidsLimit: number;
  readonly capAdd: readonly string[];
  readonly capDrop: readonly string[];
  readonly securityOpt: readonly string[];
  readonly mounts: readonly MountModel[];
  readonly devices: readonly string[];
  readonly restartPolicy: string;
  readonly publishAllPorts: boolean;
  readonly portBindings: readonly string[];
}

type Obj = Record<string, unknown>;

/** Normalises `docker inspect` output. */
export function modelFromInspect(info: ContainerInspectInfo): ContainerModel {
  const hc = (info.HostConfig ?? {}) as Obj;
  const cfg = (info.Config ?? {}) as unknown as Obj;
  const mounts = (info.Mounts ?? []).map((m) => ({
    type: m.Type ?? 'volume',
    source: m.Source ?? '',
    target: m.Destination ?? '',
    readOnly: m.RW === false,
  }));
  const started = Date.parse(info.State?.StartedAt ?? '');
  return {
    ...common(cfg, hc, 'inspect'),
    id: info.Id,
    name: (info.Name ?? '').replace(/^\//, ''),
    imageId: info.Image,
    running: info.State?.Running === true,
    startedAt: Number.isFinite(started) && started > 0 ? started : 0,
    mounts,
  };
}

/**
 * Normalises a create request body (dockerode's ContainerCreateOptions or the raw JSON the
 * daemon receives). Throws InvalidError when a field has the wrong type: a body that cannot
 * be understood must never be taken as harmless.
 */
export function modelFromCreate(body: ContainerCreateOptions | unknown, name = ''): ContainerModel {
  if (!isObj(body)) throw bad('', 'the body is not a JSON object');
  const hc = body.HostConfig === undefined || body.HostConfig === null ? {} : body.HostConfig;
  if (!isObj(hc)) throw bad('HostConfig', 'not an object');
  const explicitName = typeof body.name === 'string' ? body.name : name;
  return {
    ...common(body, hc, 'create'),
    id: '',
    name: explicitName.replace(/^\//, ''),
    running: false,
    startedAt: 0,
    mounts: createMounts(body, hc),
  };
}

function common(cfg: Obj, hc: Obj, where: string) {
  const r = new Reader(where);
  return {
    image: r.str(cfg, 'Image'),
    labels: r.map(cfg, 'Labels'),
    user: r.str(cfg, 'User'),
    cmd: r.strOrList(cfg, 'Cmd'),
    env: r.list(cfg, 'Env'),
    privileged: r.bool(hc, 'Privileged'),
    readonlyRootfs: r.bool(hc, 'ReadonlyRootfs'),
    networkMode: normaliseNetwork(r.str(hc, 'NetworkMode'), r.bool(cfg, 'NetworkDisabled')),
    pidMode: r.str(hc, 'PidMode'),
    ipcMode: r.str(hc, 'IpcMode'),
    utsMode: r.str(hc, 'UTSMode'),
    usernsMode: r.str(hc, 'UsernsMode'),
    memory: r.num(hc, 'Memory'),
    memorySwap: r.num(hc, 'MemorySwap'),
    nanoCpus: r.num(hc, 'NanoCpus'),
    cpuQuota: r.num(hc, 'CpuQuota'),
    pidsLimit: Math.max(0, r.num(hc, 'PidsLimit')),
    capAdd: r.list(hc, 'CapAdd').map(normaliseCap),
    capDrop: r.list(hc, 'CapDrop').map(normaliseCap),
    securityOpt: r.list(hc, 'SecurityOpt'),
    devices: r.objList(hc, 'Devices').map((d) => String(d.PathOnHost ?? '')),
    restartPolicy: String((r.obj(hc, 'RestartPolicy').Name as string | undefined) || 'no'),
    publishAllPorts: r.bool(hc, 'PublishAllPorts'),
    portBindings: Object.keys(r.obj(hc, 'PortBindings')),
  };
}

function normaliseNetwork(mode: string, disabled: boolean): string {
  if (disabled && (mode === '' || mode === 'none')) return 'none';
  return mode === '' || mode === 'default' ? 'bridge' : mode;
}

function normaliseCap(cap: string): string {
  const upper = cap.toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

/** Mounts from Binds, Mounts and Volumes of a create body, as inspect would show them. */
function createMounts(body: Obj, hc: Obj): MountModel[] {
  const r = new Reader('create');
  const out: MountModel[] = [];
  for (const bind of r.list(hc, 'Binds')) {
    const [source = '', target = '', opts = ''] = bind.split(':');
    const type = source.startsWith('/') ? 'bind' : 'volume';
    out.push({ type, source, target, readOnly: opts.split(',').includes('ro') });
  }
  for (const m of r.objList(hc, 'Mounts')) {
    out.push({ type: String(m.Type ?? 'volume'), source: String(m.Source ?? ''), target: String(m.Target ?? ''), readOnly: m.ReadOnly === true });
  }
  for (const target of Object.keys(r.obj(body, 'Volumes'))) {
    if (!out.some((m) => m.target === target)) out.push({ type: 'volume', source: '', target, readOnly: false });
  }
  return out;
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function bad(field: string, message: string): InvalidError {
  return new InvalidError('ENFORCER_BAD_CONTAINER', `cannot read container settings${field ? ` (${field})` : ''}: ${message}`);
}

/** Type-checked field access; absent or null fields read as Docker's zero value. */
class Reader {
  constructor(private readonly where: string) {}

  private get(o: Obj, k: string): unknown {
    return o[k] === null ? undefined : o[k];
  }
  str(o: Obj, k: string): string {
    const v = this.get(o, k);
    if (v === undefined) return '';
    if (typeof v !== 'string') throw bad(k, `expected a string in ${this.where}`);
    return v;
  }
  num(o: Obj, k: string): number {
    const v = this.get(o, k);
    if (v === undefined) return 0;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(k, `expected a number in ${this.where}`);
    return v;
  }
  bool(o: Obj, k: string): boolean {
    const v = this.get(o, k);
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw bad(k, `expected a boolean in ${this.where}`);
    return v;
  }
  list(o: Obj, k: string): string[] {
    const v = this.get(o, k);
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(k, `expected a list of strings in ${this.where}`);
    return [...(v as string[])];
  }
  strOrList(o: Obj, k: string): string[] {
    const v = this.get(o, k);
    return typeof v === 'string' ? [v] : this.list(o, k);
  }
  obj(o: Obj, k: string): Obj {
    const v = this.get(o, k);
    if (v === undefined) return {};
    if (!isObj(v)) throw bad(k, `expected an object in ${this.where}`);
    return v;
  }
  map(o: Obj, k: string): Record<string, string> {
    const v = this.obj(o, k);
    if (Object.values(v).some((x) => typeof x !== 'string')) throw bad(k, `expected string values in ${this.where}`);
    return { ...(v as Record<string, string>) };
  }
  objList(o: Obj, k: string): Obj[] {
    const v = this.get(o, k);
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(isObj)) throw bad(k, `expected a list of objects in ${this.where}`);
    return v as Obj[];
  }
}

import type { Engine } from '../engines/engines.js';
import type { RuleSet } from '../enforcer/index.js';

/** What the proxy lets through: this deployment's containers, built from its engines, within the rules. */
export interface ProxyPolicy {
  /** The deployment label value (the queue prefix) every container and volume must carry. */
  readonly deployment: string;
  /** Images a container may be created from: the engines' and the volume holder's. */
  readonly images: ReadonlySet<string>;
  /** The volume holder's image: it may only `sleep N`, as the holder user. */
  readonly holderImage: string;
  /** Commands per image (JSON of Cmd), users and working directories the engines run with. */
  readonly commands: ReadonlyMap<string, ReadonlySet<string>>;
  readonly users: ReadonlySet<string>;
  readonly workdirs: ReadonlySet<string>;
  /** Runtimes, AppArmor profiles, seccomp profiles (JSON text) and tmpfs mounts ("path options") the engines ask for. */
  readonly runtimes: ReadonlySet<string>;
  readonly apparmor: ReadonlySet<string>;
  readonly seccomp: ReadonlySet<string>;
  readonly tmpfs: ReadonlySet<string>;
  /** Read-only named volumes the engines mount ("target name", engines.json `volumes`). */
  readonly readonlyVolumes: ReadonlySet<string>;
  /** The largest memory, pids and CPU limits an engine (or the holder) asks for; Infinity when one asks for none. */
  readonly limits: Readonly<Record<'Memory' | 'MemorySwap' | 'PidsLimit' | 'NanoCpus', number>>;
  /** The enforcer rules every create body must pass (the engine policy). */
  readonly rules: RuleSet;
  /** Largest JSON body accepted (create bodies carry seccomp profiles). */
  readonly maxJsonBytes: number;
}

/** Builds the policy from the engines this deployment runs. */
export function policyFrom(options: { deployment: string; engines: readonly Engine[]; holderImage: string; rules: RuleSet; maxJsonBytes: number }): ProxyPolicy {
  const { engines } = options;
  const pick = (f: (e: Engine) => string | undefined): Set<string> => new Set(engines.map(f).filter((x): x is string => x !== undefined));
  return {
    deployment: options.deployment,
    images: new Set([...engines.map((e) => e.image), options.holderImage]),
    holderImage: options.holderImage,
    commands: commandsOf(engines),
    users: new Set([...engines.map((e) => e.user), HOLDER_USER]),
    workdirs: new Set(engines.map((e) => e.mountpoint)),
    limits: limitsOf(engines),
    runtimes: pick((e) => e.containment.runtime),
    apparmor: pick((e) => e.containment.apparmor),
    seccomp: pick((e) => e.containment.seccomp?.json),
    tmpfs: new Set(engines.flatMap((e) => Object.entries(e.containment.tmpfs).map(([path, opts]) => tmpfsKey(path, opts)))),
    readonlyVolumes: new Set(engines.flatMap((e) => Object.entries(e.containment.volumes ?? {}).map(([target, name]) => volumeKey(target, name)))),
    rules: options.rules,
    maxJsonBytes: options.maxJsonBytes,
  };
}

/** The user the volume holder runs as (capped-volume.ts). */
export const HOLDER_USER = '65534:65534';

/** The holder's own limits (capped-volume.ts): it must fit under the ceilings too. */
const HOLDER_LIMITS = { memory: 16 * 1024 * 1024, pids: 4, nanoCpus: 1e8 };

function limitsOf(engines: readonly Engine[]): ProxyPolicy['limits'] {
  const ceiling = (values: number[]): number => (values.some((v) => !(v > 0)) ? Infinity : Math.max(...values));
  const memory = ceiling([...engines.map((e) => e.containment.memoryBytes), HOLDER_LIMITS.memory]);
  return {
    Memory: memory, MemorySwap: memory,
    PidsLimit: ceiling([...engines.map((e) => e.containment.pids), HOLDER_LIMITS.pids]),
    NanoCpus: ceiling([...engines.map((e) => e.containment.nanoCpus), HOLDER_LIMITS.nanoCpus]),
  };
}

function commandsOf(engines: readonly Engine[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const e of engines) out.set(e.image, (out.get(e.image) ?? new Set()).add(JSON.stringify(e.cmd)));
  return out;
}

/** The key a tmpfs mount is known by in ProxyPolicy.tmpfs. */
export function tmpfsKey(path: string, options: string): string {
  return `${path} ${options}`;
}

/** The key a read-only named volume mount is known by in ProxyPolicy.readonlyVolumes. */
export function volumeKey(target: string, name: string): string {
  return `${target} ${name}`;
}

import type { Engine } from '../engines/engines.js';
import type { RuleSet } from '../enforcer/index.js';

/** What the proxy lets through: this deployment's containers, built from its engines, within the rules. */
export interface ProxyPolicy {
  /** The deployment label value (the queue prefix) every container and volume must carry. */
  readonly deployment: string;
  /** Images a container may be created from: the engines' and the volume holder's. */
  readonly images: ReadonlySet<string>;
  /** Runtimes, AppArmor profiles, seccomp profiles (JSON text) and tmpfs mounts ("path options") the engines ask for. */
  readonly runtimes: ReadonlySet<string>;
  readonly apparmor: ReadonlySet<string>;
  readonly seccomp: ReadonlySet<string>;
  readonly tmpfs: ReadonlySet<string>;
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
    runtimes: pick((e) => e.containment.runtime),
    apparmor: pick((e) => e.containment.apparmor),
    seccomp: pick((e) => e.containment.seccomp?.json),
    tmpfs: new Set(engines.flatMap((e) => Object.entries(e.containment.tmpfs).map(([path, opts]) => tmpfsKey(path, opts)))),
    rules: options.rules,
    maxJsonBytes: options.maxJsonBytes,
  };
}

/** The key a tmpfs mount is known by in ProxyPolicy.tmpfs. */
export function tmpfsKey(path: string, options: string): string {
  return `${path} ${options}`;
}

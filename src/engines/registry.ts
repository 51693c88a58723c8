import { isDeepStrictEqual } from 'node:util';
import type { Engine } from './engines.js';

/** Engines by name: `active` takes uploads, `get` also knows engines retired by a reload. */
export interface EngineLookup {
  active(name: string): Engine | undefined;
  get(name: string): Engine | undefined;
}

/** A lookup over a registry, or over a fixed list (tests, processes that never reload). */
export function engineLookup(engines: readonly Engine[] | EngineLookup): EngineLookup {
  if (!Array.isArray(engines)) return engines as EngineLookup;
  const byName = new Map((engines as readonly Engine[]).map((e) => [e.name, e]));
  return { active: (n) => byName.get(n), get: (n) => byName.get(n) };
}

/** How a new engines.json differs from the engines in use. */
export interface EngineChanges {
  added: Engine[];
  removed: Engine[];
  /** Same name, different image or settings: the new version replaces the old one. */
  changed: { from: Engine; to: Engine }[];
}

/**
 * The engines a process uses, replaceable while it runs (`menagerie engines reload`, SIGHUP).
 * Uploads go only to active engines; a removed engine stays known as retired, so the jobs it
 * still runs can finish (leases, timeouts, result limits) and its history keeps its meaning.
 */
export class EngineRegistry implements EngineLookup {
  #active = new Map<string, Engine>();
  readonly #retired = new Map<string, Engine>();

  constructor(engines: readonly Engine[]) {
    for (const e of engines) this.#active.set(e.name, e);
  }

  /** The engine that takes uploads under `name`, if any. */
  active(name: string): Engine | undefined {
    return this.#active.get(name);
  }

  /** The engine under `name` for a job already accepted: active, or retired by a reload. */
  get(name: string): Engine | undefined {
    return this.#active.get(name) ?? this.#retired.get(name);
  }

  /** The active engines, in engines.json order. */
  list(): readonly Engine[] {
    return [...this.#active.values()];
  }

  /** What replacing the active engines by `next` would change. */
  diff(next: readonly Engine[]): EngineChanges {
    const names = new Set(next.map((e) => e.name));
    const added: Engine[] = [];
    const changed: EngineChanges['changed'] = [];
    for (const to of next) {
      const from = this.#active.get(to.name);
      if (!from) added.push(to);
      else if (!isDeepStrictEqual(from, to)) changed.push({ from, to });
    }
    return { added, removed: this.list().filter((e) => !names.has(e.name)), changed };
  }

  /** Makes `next` the active engines; returns what changed. Removed engines become retired. */
  apply(next: readonly Engine[]): EngineChanges {
    const changes = this.diff(next);
    for (const e of changes.removed) this.#retired.set(e.name, e);
    for (const e of next) this.#retired.delete(e.name);
    this.#active = new Map(next.map((e) => [e.name, e]));
    return changes;
  }
}

/** A one-line account of a change, for logs. */
export function describeChanges(c: EngineChanges): string {
  const parts = [
    ...c.added.map((e) => `+${e.name} (${e.image})`),
    ...c.changed.map(({ from, to }) => `~${to.name} (${from.image === to.image ? 'settings' : `${from.image} -> ${to.image}`})`),
    ...c.removed.map((e) => `-${e.name}`),
  ];
  return parts.length ? parts.join(', ') : 'no change';
}

import type Docker from 'dockerode';
import type { Container, ContainerCreateOptions } from 'dockerode';
import { randomBytes } from 'node:crypto';
import { LABELS } from '../contract/labels.js';
import type { Engine } from '../engines/engines.js';
import type { Logger } from '../log/logger.js';
import { buildContainerSpec, type PoolIdentity } from './container-spec.js';
import type { Containment } from './containment-report.js';

/** A created, never-started container of the pool, with its containment read back once. */
export interface Pooled {
  readonly container: Container;
  readonly containment: Promise<Containment>;
}

/** What the pool needs from the runner: Docker calls (counted as the runner counts them). */
export interface WarmPoolDeps {
  deployment: string;
  node: string;
  create(spec: ContainerCreateOptions): Promise<Container>;
  /** Reads the settings back (the containment report), once per container. */
  describe(container: Container): Promise<Containment>;
  /** Removes a container that will never run (the runner's removal queue). */
  remove(container: Container): void;
  /** The containers carrying a label (`key=value`), whatever their state; throws if Docker does not answer. */
  find(label: string): Promise<Container[]>;
  log: Logger;
  /** How long a container may wait for a job before it is replaced (its deadline label counts it). */
  maxIdleMs?: number;
  /** Added to the engine's timeout for the deadline label (the runner's grace). */
  graceMs: number;
}

interface Entry extends Pooled {
  readonly key: string;
  readonly created: number;
}

/** The longest a pool container waits for a job by default. */
const MAX_IDLE_MS = 10 * 60_000;

/**
 * Per engine, `engine.warm` containers created ahead (hardened exactly as a job's, never
 * started), so a job skips the create and the settings read-back. Each is used by one job and
 * removed after it, like any job's container; the pool makes another behind it. A pool
 * container carries `role=pool` and no job label (Docker fixes labels at create time): the
 * worker records the job it runs with the frontend before starting it, which is where the
 * enforcer and the orphan sweeper look. Its deadline label bounds its idle wait plus the
 * engine's timeout; one that waited `maxIdleMs` is replaced.
 */
export class WarmPool {
  readonly #d: WarmPoolDeps;
  readonly #maxIdleMs: number;
  readonly #ready = new Map<string, Entry[]>();
  readonly #making = new Map<string, number>();
  readonly #engines = new Map<string, Engine>();
  /** Each engine version's key, serialised once (a reload makes new Engine objects), not once per job. */
  readonly #keys = new WeakMap<Engine, string>();
  readonly #timer: NodeJS.Timeout;
  /** Tokens of creates that failed: Docker may have made the container and lost the answer. */
  readonly #lost = new Set<string>();
  /** The reclaim under way, if one is: creates that end together start one, not several. */
  #reclaiming: Promise<void> | undefined;
  #closed = false;

  constructor(deps: WarmPoolDeps) {
    this.#d = deps;
    this.#maxIdleMs = deps.maxIdleMs ?? MAX_IDLE_MS;
    this.#timer = setInterval(() => this.#expire(), Math.max(1000, Math.floor(this.#maxIdleMs / 4)));
    this.#timer.unref();
  }

  /** Keeps `engine.warm` containers ready for `engine`, the current version: those made for an older one go now. */
  prepare(engine: Engine): void {
    this.#engines.set(engine.name, engine);
    const key = this.#key(engine);
    this.#drop(engine.name, (e) => e.key !== key);
    this.#fill(engine);
  }

  /** Stops keeping containers for an engine (removed by a reload) and removes its idle ones. */
  retire(name: string): void {
    this.#engines.delete(name);
    this.#drop(name, () => true);
    this.#ready.delete(name);
  }

  /**
   * A ready container for `engine`, if one is; the pool refills behind. Only the version last
   * prepared takes: a job of an older one (draining after a reload) runs cold, and never
   * brings that version's pool back.
   */
  take(engine: Engine): Pooled | undefined {
    if (this.#engines.get(engine.name) !== engine) return undefined;
    this.#drop(engine.name, (e) => this.#expired(e));
    const list = this.#ready.get(engine.name) ?? [];
    const taken = list.shift();
    this.#fill(engine);
    return taken;
  }

  /** The containers ready now, by engine (tests, metrics). */
  readyCount(name: string): number {
    return this.#ready.get(name)?.length ?? 0;
  }

  /** Removes every idle container and makes no more (shutdown). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const name of [...this.#ready.keys()]) this.retire(name);
    void this.#reclaim();
  }

  #fill(engine: Engine): void {
    const want = engine.warm ?? 0;
    const have = (this.#ready.get(engine.name)?.length ?? 0) + (this.#making.get(engine.name) ?? 0);
    for (let i = have; i < want && !this.#closed; i++) void this.#make(engine);
  }

  async #make(engine: Engine): Promise<void> {
    this.#making.set(engine.name, (this.#making.get(engine.name) ?? 0) + 1);
    const token = randomBytes(12).toString('hex');
    try {
      const created = Date.now();
      const pool: PoolIdentity = { deployment: this.#d.deployment, node: this.#d.node, pool: true, token, deadline: created + this.#maxIdleMs + engine.timeoutMs + this.#d.graceMs };
      const container = await this.#d.create(buildContainerSpec(engine, pool));
      void this.#reclaim(); // Docker answers again: what a lost answer left behind goes now
      const containment = this.#d.describe(container);
      containment.catch(() => undefined); // a failed read-back fails the job that takes it
      const entry: Entry = { container, containment, key: this.#key(engine), created };
      if (this.#closed || this.#engines.get(engine.name) !== engine) this.#d.remove(container);
      else this.#ready.set(engine.name, [...(this.#ready.get(engine.name) ?? []), entry]);
    } catch (err) {
      // The next job creates its own container (the cold path); the pool tries again after it.
      this.#lost.add(token);
      this.#d.log.warn({ err, engine: engine.name }, `warm pool of ${engine.name}: cannot create a container: ${(err as Error).message}`);
    } finally {
      this.#making.set(engine.name, (this.#making.get(engine.name) ?? 1) - 1);
    }
  }

  /**
   * Removes the containers of failed creates that Docker made all the same (their answer was
   * lost: the daemon restarted mid-call). A token stays until Docker answered for it; the
   * orphan sweeper's deadline is the backstop.
   */
  #reclaim(): Promise<void> {
    if (this.#lost.size === 0) return Promise.resolve();
    this.#reclaiming ??= this.#reclaimLost().finally(() => (this.#reclaiming = undefined));
    return this.#reclaiming;
  }

  async #reclaimLost(): Promise<void> {
    for (const token of [...this.#lost]) {
      try {
        for (const c of await this.#d.find(`${LABELS.poolToken}=${token}`)) this.#d.remove(c);
        this.#lost.delete(token);
      } catch {
        return; // Docker does not answer yet: the next create or expiry round tries again
      }
    }
  }

  #key(engine: Engine): string {
    let key = this.#keys.get(engine);
    if (key === undefined) this.#keys.set(engine, (key = specKey(engine, this.#d)));
    return key;
  }

  #expired(e: Entry): boolean {
    return Date.now() - e.created > this.#maxIdleMs;
  }

  /** Removes an engine's ready containers that `gone` picks; true if there were any. */
  #drop(name: string, gone: (e: Entry) => boolean): boolean {
    const list = this.#ready.get(name) ?? [];
    const old = list.filter(gone);
    for (const e of old) this.#d.remove(e.container);
    this.#ready.set(name, list.filter((e) => !old.includes(e)));
    return old.length > 0;
  }

  /** Replaces containers that waited too long; reclaims what failed creates left. */
  #expire(): void {
    void this.#reclaim();
    for (const name of [...this.#ready.keys()]) {
      const engine = this.#engines.get(name);
      if (this.#drop(name, (e) => this.#expired(e)) && engine) this.#fill(engine);
    }
  }
}

/**
 * The pool's `find` on a Docker client: the containers of this deployment carrying `label`.
 * Scoped by the deployment label too: docker-proxy refuses a list that is not.
 */
export function labelFinder(docker: Docker, deployment: string): WarmPoolDeps['find'] {
  return async (label) => (await docker.listContainers({ all: true, filters: { label: [`${LABELS.deployment}=${deployment}`, label] } }))
    .map((c) => docker.getContainer(c.Id));
}

/** What makes two pool containers interchangeable: the create options but the deadline. */
function specKey(engine: Engine, d: Pick<WarmPoolDeps, 'deployment' | 'node'>): string {
  return JSON.stringify(buildContainerSpec(engine, { deployment: d.deployment, node: d.node, pool: true, deadline: 0 }));
}

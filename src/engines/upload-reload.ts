import { ConfigError, type ConfigProblem } from '../errors.js';
import { loadEngines } from './engines.js';
import { describeChanges, type EngineChanges, type EngineRegistry } from './registry.js';
import type { Logger } from '../log/logger.js';

/** What the frontend's engine reload needs (wired by frontend.ts). */
export interface UploadReloadDeps {
  file: string;
  registry: EngineRegistry;
  /** Declares the queues of these engines (idempotent). */
  declare: (engines: string[]) => Promise<void>;
  /** Whether some menage consumes the engine's queue now: it accepted the engine (policy, image, kit). */
  served: (engine: string) => Promise<boolean>;
  /** Fails the jobs still waiting for these removed engines; resolves to how many. */
  failWaiting: (engines: string[]) => Promise<number>;
  /** How long a new engine may take to be served (menage runs its kit first). */
  waitMs: number;
  pollMs?: number;
  log: Logger;
}

/**
 * The frontend's side of `menagerie engines reload`: engines.json is re-read and a new engine
 * takes uploads only once a menage serves its queue, which menage does only after the engine
 * passed its policy, image and conformance checks. So a SIGHUP to the frontend alone (or
 * before menage) never opens uploads to an engine nothing vetted: it waits up to `waitMs`
 * for menage, then refuses and changes nothing. A newer reload supersedes a waiting one.
 * Removed engines stop taking uploads, and their jobs still waiting fail (`engine removed`).
 */
export class UploadReload {
  #generation = 0;

  constructor(private readonly d: UploadReloadDeps) {}

  async reload(): Promise<EngineChanges> {
    const generation = ++this.#generation;
    const problems: ConfigProblem[] = [];
    const next = loadEngines(this.d.file, process.env, problems);
    if (problems.length) throw new ConfigError(problems);
    await this.d.declare(next.map((e) => e.name));
    const added = this.d.registry.diff(next).added.map((e) => e.name);
    await this.#awaitServed(added, generation);
    const changes = this.d.registry.apply(next);
    this.d.log.info({ changes }, `engines reloaded: ${describeChanges(changes)}`);
    const removed = changes.removed.map((e) => e.name);
    if (removed.length) {
      const failed = await this.d.failWaiting(removed);
      if (failed) this.d.log.warn({ failed, engines: removed }, `engines reload: ${failed} waiting job${failed === 1 ? '' : 's'} of ${removed.join(', ')} failed: engine removed`);
    }
    return changes;
  }

  async #awaitServed(engines: string[], generation: number): Promise<void> {
    if (engines.length === 0) return;
    this.d.log.info({ engines }, `engines reload: waiting for a menage to serve ${engines.join(', ')}`);
    const deadline = Date.now() + this.d.waitMs;
    let waiting = engines;
    for (;;) {
      if (generation !== this.#generation) throw new Error('superseded by a newer reload');
      const served = await Promise.all(waiting.map((e) => this.d.served(e)));
      waiting = waiting.filter((_, i) => !served[i]);
      if (waiting.length === 0) return;
      if (Date.now() >= deadline) {
        throw new ConfigError(waiting.map((e) => ({ file: this.d.file, pointer: '', message:
          `engine "${e}" is not served by any menage after ${Math.round(this.d.waitMs / 1000)} s: reload menage first (it runs the engine's conformance kit) and see its log for why it refused` })));
      }
      await new Promise((r) => setTimeout(r, this.d.pollMs ?? 2000));
    }
  }
}

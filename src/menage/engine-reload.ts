import type Docker from 'dockerode';
import { loadEngines, type Engine } from '../engines/engines.js';
import { describeChanges, type EngineChanges, type EngineRegistry } from '../engines/registry.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { checkDaemon, checkEngineVolumes } from './daemon-check.js';
import { ensureImages } from './image-pull.js';
import type { EngineSlots } from './engine-slots.js';
import type { Logger } from '../log/logger.js';

/** What a reload of menage's engines needs. */
export interface EngineReloadDeps {
  docker: Docker;
  /** The queue prefix: the label of this deployment's read-only engine volumes. */
  deployment: string;
  enginesFile: string;
  /** The engines this menage runs (config `menage.engines`); empty: all. */
  only: readonly string[];
  registry: EngineRegistry;
  slots: EngineSlots;
  /** Throws a ConfigError when an engine breaks the container policy. */
  checkPolicy: (engines: readonly Engine[]) => void;
  /** Runs the conformance kit; resolves to why the engine failed it, undefined when it passed. */
  conformance: (engine: Engine) => Promise<string | undefined>;
  log: Logger;
}

/**
 * Re-reads engines.json and switches menage to it while jobs run: every new or changed engine
 * must load, pass the policy, have its image (pulled when missing) and pass its conformance
 * kit, or nothing changes at all. Then new versions start and old ones drain (EngineSlots).
 */
export async function reloadEngines(d: EngineReloadDeps): Promise<EngineChanges> {
  const problems: ConfigProblem[] = [];
  const all = loadEngines(d.enginesFile, process.env, problems);
  if (problems.length) throw new ConfigError(problems);
  const next = d.only.length ? all.filter((e) => d.only.includes(e.name)) : all;
  d.checkPolicy(all);
  const changes = d.registry.diff(next);
  const incoming = [...changes.added, ...changes.changed.map((c) => c.to)];
  await ensureImages(d.docker, incoming, d.enginesFile, d.log);
  const daemon = await checkDaemon(d.docker, incoming, d.enginesFile, all);
  daemon.problems.push(...(await checkEngineVolumes(d.docker, incoming, d.deployment, d.enginesFile, all)));
  if (daemon.problems.length) throw new ConfigError(daemon.problems);
  const refused: ConfigProblem[] = [];
  for (const engine of incoming) {
    d.log.info({ engine: engine.name, image: engine.image }, `reload: running the conformance kit of ${engine.name} (${engine.image})`);
    const why = await d.conformance(engine);
    if (why) refused.push({ file: d.enginesFile, pointer: `/engines/${all.indexOf(engine)}`, message: `engine "${engine.name}" (${engine.image}) failed its conformance kit: ${why}` });
  }
  if (refused.length) throw new ConfigError(refused);
  d.registry.apply(next);
  await d.slots.apply(changes);
  d.log.info({ changes }, `engines reloaded: ${describeChanges(changes)}`);
  return changes;
}

import type Docker from 'dockerode';
import type { Engine } from '../engines/engines.js';
import { ConfigError, type ConfigProblem } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** How many engines' images are looked up and pulled at once. */
export const PULLS_AT_ONCE = 4;

/**
 * ensureImage for every engine, PULLS_AT_ONCE at a time (a node with many engines starts in the
 * time of its slowest pulls, not their sum). Every pull is let finish; the images that could not
 * be had are then reported together, each problem as ensureImage words it.
 */
export async function ensureImages(docker: Docker, engines: readonly Engine[], file: string, log: Logger, atOnce = PULLS_AT_ONCE): Promise<void> {
  const problems: (readonly ConfigProblem[])[] = engines.map(() => []);
  let other: unknown;
  let next = 0;
  const pullNext = async (): Promise<void> => {
    for (let i = next++; i < engines.length; i = next++) {
      await ensureImage(docker, engines[i]!, file, log).catch((err: unknown) => {
        if (err instanceof ConfigError) problems[i] = err.problems;
        else other ??= err;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(atOnce, engines.length) }, pullNext));
  if (other !== undefined) throw other;
  if (problems.some((p) => p.length)) throw new ConfigError(problems.flat());
}

/**
 * Pulls an engine's image when the daemon does not have it (a worker node's first start, a
 * new version pushed to the registry); a failed pull names the image. Through the Docker API
 * proxy only the engines' exact references may be pulled, with credentials the proxy adds
 * (menage holds none).
 */
export async function ensureImage(docker: Docker, engine: Engine, file: string, log: Logger): Promise<void> {
  if (await hasImage(docker, engine, file)) return;
  log.info({ engine: engine.name, image: engine.image }, `pulling ${engine.image}: the Docker engine does not have it`);
  const fail = (why: string): ConfigError => new ConfigError([{ file, pointer: '', message: `engine "${engine.name}": image ${engine.image} is not present and could not be pulled: ${why}` }]);
  let events: { error?: string; errorDetail?: { message?: string } }[];
  try {
    const stream = await docker.pull(engine.image);
    events = await new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: typeof events) => (err ? reject(err) : resolve(out))));
  } catch (err) {
    throw fail((err as Error).message);
  }
  // Docker reports a failure that happens after the answer began inside the progress stream.
  const failed = events.find((e) => e.error || e.errorDetail);
  if (failed) throw fail(failed.errorDetail?.message ?? failed.error ?? 'the pull failed');
  if (!(await hasImage(docker, engine, file))) throw fail('the Docker engine still does not have it after the pull');
  log.info({ engine: engine.name, image: engine.image }, `pulled ${engine.image}`);
}

async function hasImage(docker: Docker, engine: Engine, file: string): Promise<boolean> {
  return docker.getImage(engine.image).inspect().then(() => true, (err: { statusCode?: number }) => {
    if (err.statusCode !== 403) return false;
    throw new ConfigError([{ file, pointer: '', message: `engine "${engine.name}": the Docker API proxy refuses image ${engine.image}: it has not re-read engines.json (send it SIGHUP first; \`menagerie engines reload\` does)` }]);
  });
}

import type { Container } from 'dockerode';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Engine } from '../engines/engines.js';
import { REASONS } from './failure-reasons.js';
import { asInfra } from './infra-errors.js';
import { checkPathStat, parsePathStat, readResultArchive, ResultRefused } from './result-archive.js';

/**
 * Collects the result, reading the archive again after a failed delivery (the frontend
 * restarting, say): the container is still there, so a brief outage does not cost a re-run.
 * A delivery the frontend did record before the failure is answered as a duplicate.
 */
export async function collectWithRetries(container: Container, engine: Engine, signal: AbortSignal,
  deliver: (body: Readable, size: number) => Promise<void>, tries = 4): Promise<string | undefined> {
  for (let i = 1; ; i++) {
    try {
      return await collect(container, engine, deliver);
    } catch (err) {
      if (i >= tries || signal.aborted) throw err;
      await sleep(500 * 2 ** i, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Streams `<mountpoint>/result` to `deliver`; returns why it was refused, if it was. */
async function collect(container: Container, engine: Engine, deliver: (body: Readable, size: number) => Promise<void>): Promise<string | undefined> {
  const limit = engine.containment.resultLimit;
  try {
    const archive = (await container.getArchive({ path: posix.join(engine.mountpoint, 'result') })) as Readable & { headers?: Record<string, string> };
    // The engine has exited: Docker's stat of the path cannot change before the archive is read.
    const stat = parsePathStat(archive.headers?.['x-docker-container-path-stat']);
    const problem = stat && checkPathStat(stat, limit);
    if (problem) {
      archive.destroy();
      return problem;
    }
    await readResultArchive(archive, limit, deliver);
    return undefined;
  } catch (err) {
    if (err instanceof ResultRefused) return err.message;
    if ((err as { statusCode?: number }).statusCode === 404) return REASONS.noResult;
    throw asInfra('collect the result', err);
  }
}

import type { Container } from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfrastructureError } from '../errors.js';

/** How a run ended: exited by itself, stopped at its timeout (SIGTERM or SIGKILL), or cut short by shutdown. */
export type Ending = 'exited' | 'timeout' | 'killed' | 'aborted';

/**
 * The exit code a restarted daemon gives a container whose end it did not see (its task was
 * gone when the daemon restored it): the engine's real status is lost.
 */
export const LOST_EXIT_CODE = 255;

/**
 * How the wait ended, and whether the daemon's own wait call reported the exit status. It
 * does not when the call broke on the way (the daemon or its proxy restarted: the call
 * fails, or hangs on a cut connection); the exit is then seen by polling the state.
 */
export interface Waited {
  readonly ended: Ending;
  readonly statusSeen: boolean;
}

/** How long a polled exit waits for the daemon's wait call to report it too. */
const WAIT_ANSWER_MS = 1000;

/** Waits for the container to exit; past the timeout: SIGTERM, then SIGKILL after a grace. */
export async function waitFor(container: Container, timeoutMs: number, stopGraceMs: number, signal: AbortSignal): Promise<Waited> {
  const polling = new AbortController();
  let statusSeen = false;
  // The wait request does not survive a daemon restart (live-restore keeps the container
  // running); polling the container's state notices its exit all the same. An answer
  // without a status (a cut response) is no exit: polling decides.
  const waited = container.wait().then((answer: { StatusCode?: unknown } | undefined) => {
    if (typeof answer?.StatusCode !== 'number') return pollExit(container, polling.signal);
    statusSeen = true;
    return 'exited' as const;
  }, () => pollExit(container, polling.signal));
  // A poll can see the exit a moment before the wait call answers: it is given that moment.
  const polled = pollExit(container, polling.signal).then(async (e) => {
    await Promise.race([waited, sleep(WAIT_ANSWER_MS)]);
    return e;
  });
  const exited = Promise.race([waited, polled]);
  const timers: NodeJS.Timeout[] = [];
  const after = <T>(ms: number, value: T): Promise<T> => new Promise((resolve) => timers.push(setTimeout(() => resolve(value), ms)));
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted');
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    let first: Ending = await Promise.race([exited, after(timeoutMs, 'timeout' as const), aborted]);
    if (first === 'timeout') {
      await container.kill({ signal: 'SIGTERM' }).catch(() => undefined);
      const stopped = await Promise.race([exited, after(stopGraceMs, 'killed' as const), aborted]);
      if (stopped !== 'exited') first = stopped;
    }
    if (first !== 'exited') {
      await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      await Promise.race([exited.catch(() => undefined), after(10_000, undefined)]);
    }
    return { ended: first, statusSeen };
  } catch (err) {
    throw err instanceof InfrastructureError ? err : new InfrastructureError(`cannot wait for the container: ${(err as Error).message}`, { cause: err });
  } finally {
    polling.abort();
    for (const t of timers) clearTimeout(t);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** Resolves once the container is seen not running; errors (daemon away) are retried. */
async function pollExit(container: Container, signal: AbortSignal, everyMs = 2000): Promise<'exited'> {
  while (!signal.aborted) {
    await sleep(everyMs, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) break;
    const state = await container.inspect().then((i) => i.State, () => undefined);
    if (state && !state.Running) return 'exited';
  }
  return new Promise<never>(() => undefined);
}


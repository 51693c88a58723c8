import type { Container } from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfrastructureError } from '../errors.js';

/** How a run ended: exited by itself, stopped at its timeout (SIGTERM or SIGKILL), or cut short by shutdown. */
export type Ending = 'exited' | 'timeout' | 'killed' | 'aborted';

/** Waits for the container to exit; past the timeout: SIGTERM, then SIGKILL after a grace. */
export async function waitFor(container: Container, timeoutMs: number, stopGraceMs: number, signal: AbortSignal): Promise<Ending> {
  const polling = new AbortController();
  // The wait request does not survive a daemon restart (live-restore keeps the container
  // running); polling the container's state notices its exit all the same.
  const exited = Promise.race([
    container.wait().then(() => 'exited' as const, () => pollExit(container, polling.signal)),
    pollExit(container, polling.signal),
  ]);
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
    return first;
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


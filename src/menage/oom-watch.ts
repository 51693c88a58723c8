import type Docker from 'dockerode';
import type { Readable } from 'node:stream';

/** Knows whether Docker reported an OOM kill in one container. */
export interface OomWatch {
  /** True once an `oom` event was seen; waits up to `ms` for one that may still be on its way. */
  seen(ms: number): Promise<boolean>;
  close(): void;
}

/**
 * Watches Docker's event stream for an `oom` event of one container. Docker 20.10 sets
 * `State.OOMKilled` only when the OOM event beats the exit event; when it loses the race
 * (measured: a memory bomb then looks like "exit code 137"), the event still arrives.
 */
export async function watchOom(docker: Docker, containerId: string): Promise<OomWatch> {
  const controller = new AbortController();
  const stream = (await docker.getEvents({
    filters: { container: [containerId], event: ['oom'] }, abortSignal: controller.signal,
  } as Parameters<Docker['getEvents']>[0])) as unknown as Readable;
  let oom = false;
  const waiters = new Set<() => void>();
  stream.on('data', () => {
    oom = true;
    for (const w of waiters) w();
  });
  stream.on('error', () => undefined);
  return {
    async seen(ms) {
      if (oom || ms <= 0) return oom;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        waiters.add(done);
      });
      return oom;
    },
    close() {
      controller.abort();
      stream.destroy();
    },
  };
}

import type { Container } from 'dockerode';

/** Removes a container and its anonymous volume; retries briefly (the daemon may be busy). */
export async function removeContainer(container: Container): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return;
      await new Promise((r) => setTimeout(r, 200 * 2 ** i));
    }
  }
}

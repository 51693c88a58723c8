import type Docker from 'dockerode';
import type { RuleAction } from './rules.js';

/** The verified result of stopping or killing a container. */
export type ActionResult = 'stopped' | 'killed' | 'gone' | 'failed';

/**
 * Stops or kills a container, then verifies with inspect that it is no longer running
 * (polling until `timeoutMs`). A container that vanished counts as gone.
 */
export async function applyAction(docker: Docker, id: string, action: RuleAction, timeoutMs: number, signal?: AbortSignal): Promise<{ result: ActionResult; detail?: string }> {
  if (action.type === 'warn') return { result: 'failed', detail: 'warn is not an action' };
  const container = docker.getContainer(id);
  try {
    if (action.type === 'stop') await container.stop({ t: action.timeout });
    else await container.kill({ signal: action.signal });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404) return { result: 'gone' };
    // 304/409: already stopped or not running; verification below decides.
    if (status !== 304 && status !== 409) return { result: 'failed', detail: describe(err) };
  }
  return verifyStopped(docker, id, action.type === 'stop' ? 'stopped' : 'killed', timeoutMs, signal);
}

async function verifyStopped(docker: Docker, id: string, ok: ActionResult, timeoutMs: number, signal?: AbortSignal): Promise<{ result: ActionResult; detail?: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const info = await docker.getContainer(id).inspect();
      if (!info.State.Running) return { result: ok };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return { result: 'gone' };
      return { result: 'failed', detail: describe(err) };
    }
    if (Date.now() > deadline || signal?.aborted) return { result: 'failed', detail: 'still running after the action' };
    await new Promise((r) => setTimeout(r, 200));
  }
}

function describe(err: unknown): string {
  const e = err as { statusCode?: number; message?: string };
  return e.statusCode ? `docker answered ${e.statusCode}` : (e.message ?? String(err));
}

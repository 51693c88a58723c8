import Docker from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFrontend, type Frontend } from '../../src/frontend.js';
import { startMenage, type Menage } from '../../src/menage.js';
import { LABELS } from '../../src/contract/labels.js';
import { createTestEnv, type TestEnv } from './services.js';
import { memoryLog } from './log.js';

/** A frontend and a menage wired to fresh test resources, in this process. */
export interface Stack {
  env: TestEnv;
  frontend: Frontend;
  menage: Menage | undefined;
  /** The public API. */
  url: string;
  /** The internal API (workers, enforcer). */
  internalUrl: string;
  /** The node name menage puts on its containers' labels: unique to this stack. */
  node: string;
  logs: string[];
  startMenage(): Promise<Menage>;
  close(): Promise<void>;
}

/** Starts a stack for `engines` (engines.json entries); menage too unless told not to. */
export async function startStack(engines: unknown[], opts: { menage?: boolean; overrides?: Record<string, unknown> } = {}): Promise<Stack> {
  const logs: string[] = [];
  const log = memoryLog(logs);
  const env = await createTestEnv(engines, opts.overrides);
  const frontend = await startFrontend(env.config, log).catch(async (err: unknown) => {
    await env.cleanup();
    throw err;
  });
  const withUrl = { ...env.config, menage: { ...env.config.menage, frontendUrl: frontend.internalUrl } };
  const stack: Stack = {
    env, frontend, menage: undefined, url: frontend.url, internalUrl: frontend.internalUrl, logs, node: env.config.rabbitmq.prefix,
    async startMenage() {
      stack.menage = await startMenage(withUrl, memoryLog(logs, 'menage'), { node: stack.node });
      return stack.menage;
    },
    async close() {
      // The database and files go whatever the processes' close does.
      try {
        await stack.menage?.close(2000);
        await frontend.close();
      } finally {
        await env.cleanup();
      }
    },
  };
  if (opts.menage !== false) {
    await stack.startMenage().catch(async (err: unknown) => {
      await stack.close();
      throw err;
    });
  }
  return stack;
}

/** Uploads bytes as multipart field `upload`; returns status and parsed JSON. */
export async function upload(url: string, engine: string, body: Buffer | string,
  opts: { method?: string; filename?: string; field?: string; token?: string } = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const form = new FormData();
  form.append(opts.field ?? 'upload', new Blob([typeof body === 'string' ? body : new Uint8Array(body)]), opts.filename ?? 'sample.bin');
  const res = await fetch(`${url}/${engine}/upload`, { method: opts.method ?? 'POST', body: form, headers: bearer(opts.token) });
  return { status: res.status, json: await res.json(), headers: res.headers };
}

/** An Authorization header for an API token, or none. */
export function bearer(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Polls /result/<id> until the job is Success or Fail. */
export async function waitDone(url: string, id: string, timeoutMs = 60_000, token?: string): Promise<{ status: string; summary: string; link: string }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/result/${id}`, { headers: bearer(token) });
    const json = (await res.json()) as { status: string; summary: string; link: string };
    if (json.status === 'Success' || json.status === 'Fail') return json;
    if (Date.now() > until) throw new Error(`job ${id} still ${json.status} after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/**
 * Containers (any state) that a stack's menage created: labelled with its node name; with
 * `idlePool: 'ignore'`, not its warm pool's containers waiting for a job (created, never started).
 */
export async function labelledContainers(docker: Docker, node: string, opts: { idlePool?: 'ignore' } = {}): Promise<string[]> {
  const all = await docker.listContainers({ all: true, filters: { label: [`${LABELS.managed}=true`, `${LABELS.node}=${node}`] } });
  const idle = (c: Docker.ContainerInfo): boolean => c.Labels?.[LABELS.role] === 'pool' && c.State === 'created';
  return all.filter((c) => opts.idlePool !== 'ignore' || !idle(c)).map((c) => c.Id);
}

/** Waits until a stack's menage has no container left (removal follows the result closely). */
export async function waitNoContainers(docker: Docker, node: string, timeoutMs = 15_000, opts: { idlePool?: 'ignore' } = {}): Promise<string[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left = await labelledContainers(docker, node, opts);
    if (left.length === 0 || Date.now() > until) return left;
    await sleep(200);
  }
}

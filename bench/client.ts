import { setTimeout as sleep } from 'node:timers/promises';
import type { Target } from './stack.js';

/** Uploads bytes as multipart field `upload`; resolves to the job id, throws on any other answer. */
export async function submit(t: Target, engine: string, body: Buffer | Blob, filename = 'sample.bin'): Promise<string> {
  const form = new FormData();
  form.append('upload', body instanceof Blob ? body : new Blob([new Uint8Array(body)]), filename);
  const res = await fetch(`${t.url}/${engine}/upload`, { method: 'POST', body: form, headers: t.headers });
  const json = (await res.json()) as { jobid?: string; error?: { code: string } };
  if (res.status !== 200 || !json.jobid) throw new Error(`upload refused: ${res.status} ${JSON.stringify(json)}`);
  return json.jobid;
}

/** The job's status from /result/<id> (with `waitSeconds`, once it has ended or that time has passed). */
export async function status(t: Target, id: string, waitSeconds = 0): Promise<string> {
  const res = await fetch(`${t.url}/result/${id}${waitSeconds ? `?wait=${waitSeconds}` : ''}`, { headers: t.headers });
  const json = (await res.json()) as { status?: string };
  if (res.status !== 200 || !json.status) throw new Error(`/result/${id}: ${res.status} ${JSON.stringify(json)}`);
  return json.status;
}

/**
 * Follows a job until Success (resolves) or Fail (throws): long-polled (`?wait=30`, the server
 * answers when the job ends), or with `everyMs` polled every `everyMs` instead.
 */
export async function waitSuccess(t: Target, id: string, everyMs = 0, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(t, id, everyMs ? 0 : 30);
    if (s === 'Success') return;
    if (s === 'Fail') throw new Error(`job ${id} failed`);
    if (Date.now() > until) throw new Error(`job ${id} still ${s} after ${timeoutMs} ms`);
    if (everyMs) await sleep(everyMs);
  }
}

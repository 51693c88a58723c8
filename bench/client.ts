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

/** The job's status from /result/<id>. */
export async function status(t: Target, id: string): Promise<string> {
  const res = await fetch(`${t.url}/result/${id}`, { headers: t.headers });
  const json = (await res.json()) as { status?: string };
  if (res.status !== 200 || !json.status) throw new Error(`/result/${id}: ${res.status} ${JSON.stringify(json)}`);
  return json.status;
}

/** Polls a job every `everyMs` until Success (resolves) or Fail (throws). */
export async function waitSuccess(t: Target, id: string, everyMs = 20, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await status(t, id);
    if (s === 'Success') return;
    if (s === 'Fail') throw new Error(`job ${id} failed`);
    if (Date.now() > until) throw new Error(`job ${id} still ${s} after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { benchEngine, cpuSeconds, startLocal, type Target } from './stack.js';
import { load, ratio } from './stats.js';

export interface UploadOptions {
  mib: number;
  remote?: { target: Target; engine: string };
  print: (line: string) => void;
}

/**
 * One large upload through the API with curl (a lean client: the server is measured, not the
 * client; a local frontend without menage, so only the upload path is measured), against `cat FILE > COPY && sync` on the same disk. Samples the frontend's RSS
 * every 20 ms. The two alternate: cat, upload, cat, upload.
 */
export async function runUpload(o: UploadOptions): Promise<void> {
  const bytes = o.mib * 1024 * 1024;
  const target = o.remote?.target ?? await startLocal([benchEngine('big', { sizelimit: bytes + 1024 * 1024 })], { menage: false });
  const dir = target.env ? join(target.env.dir, 'bench') : await mkdtemp(join(tmpdir(), 'menagerie-bench-'));
  try {
    const file = await makeFile(dir, bytes);
    const pid = target.frontend?.pid;
    const results = { cat: [] as number[], api: [] as number[], rss: [] as number[], cpu: [] as number[] };
    for (let round = 0; round < 2; round++) {
      const t0 = performance.now();
      const r = spawnSync('sh', ['-c', `cat "${file}" > "${join(dir, 'copy')}" && sync`]);
      if (r.status !== 0) throw new Error(`cat failed: ${r.stderr.toString()}`);
      results.cat.push(performance.now() - t0);
      await rm(join(dir, 'copy'));
      const before = pid ? await rss(pid) : 0;
      let peak = before;
      const cpuBefore = pid ? await cpuSeconds(pid) : 0;
      const sampler = setInterval(() => void (pid ? rss(pid).then((x) => { peak = Math.max(peak, x); }, () => undefined) : undefined), 20);
      const t1 = performance.now();
      try {
        await curlUpload(target, o.remote?.engine ?? 'big', file);
      } finally {
        clearInterval(sampler);
      }
      results.api.push(performance.now() - t1);
      results.rss.push(peak - before);
      if (pid) results.cpu.push((await cpuSeconds(pid)) - cpuBefore);
    }
    const mibps = (t: number): number => o.mib / (t / 1000);
    const best = (xs: number[]): number => Math.min(...xs);
    o.print(`${o.mib} MiB: cat+sync ${results.cat.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')} (${mibps(best(results.cat)).toFixed(0)} MiB/s best); `
      + `upload ${results.api.map((t) => `${(t / 1000).toFixed(2)} s`).join(', ')} (${mibps(best(results.api)).toFixed(0)} MiB/s best); `
      + `ratio ${ratio(best(results.cat), best(results.api))} × cat (best of each), ${ratio(results.cat.reduce((a, b) => a + b), results.api.reduce((a, b) => a + b))} × cat (sums); `
      + `frontend RSS growth ${pid ? results.rss.map((x) => `${(x / 1024 / 1024).toFixed(1)} MiB`).join(', ') : 'n/a (remote)'}, `
      + `frontend CPU ${pid ? results.cpu.map((x) => `${x.toFixed(2)} s`).join(', ') : 'n/a'} (load ${load()})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
    if (!o.remote) await target.close();
  }
}

/** A file of `bytes` random bytes (1 MiB of randomness repeated: nothing on the path compresses). */
async function makeFile(dir: string, bytes: number): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'big.bin');
  const out = createWriteStream(file);
  const chunk = randomBytes(1024 * 1024);
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (!out.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return file;
}

/** A process's resident set size in bytes (/proc/PID/status VmRSS). */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Uploads a file with curl (multipart field `upload`); throws unless the answer is 200. */
async function curlUpload(t: Target, engine: string, file: string): Promise<void> {
  const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-F', `upload=@${file}`, ...Object.entries(t.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), `${t.url}/${engine}/upload`];
  const curl = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  curl.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  curl.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const [code] = (await once(curl, 'close')) as [number];
  if (code !== 0 || out.trim() !== '200') throw new Error(`curl upload failed (exit ${code}): ${out.trim()}`);
}

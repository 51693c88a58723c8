import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';

/** An answer the server refused ({error:{code,message}}) or a transport failure. */
export class ClientError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A job as the API describes it (the fields the client shows). */
export interface JobRecord {
  jobid: string;
  engine: string;
  filename: string;
  size: number;
  sha256: string;
  status: string;
  reason: string;
  summary: string;
  attempts: number;
  created: string;
  started: string | null;
  finished: string | null;
  [more: string]: unknown;
}

/** A client of the public API: the original routes and API v1, with a Bearer token. */
export class ApiClient {
  readonly #base: URL;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.#token = token;
  }

  /** Uploads a file to an engine, reporting bytes sent; returns the job id. */
  async submit(engine: string, file: string, onProgress: (sent: number, total: number) => void = () => undefined): Promise<string> {
    const { size } = await stat(file);
    const boundary = `menagerie-${randomBytes(12).toString('hex')}`;
    const name = basename(file).replace(/["\r\n\\]/g, '_');
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="${name}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n');
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const total = head.length + size + tail.length;
    let sent = 0;
    async function* body(): AsyncGenerator<Buffer> {
      yield head;
      for await (const chunk of createReadStream(file)) {
        sent += (chunk as Buffer).length;
        onProgress(sent, size);
        yield chunk as Buffer;
      }
      yield tail;
    }
    const res = await this.#send('POST', `${encodeURIComponent(engine)}/upload`, {
      'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(total),
    }, body());
    return String(((await json(res)) as { jobid: string }).jobid);
  }

  /** The engines the caller may submit to (name, sizelimit, ...). */
  async engines(): Promise<{ name: string; sizelimit: number }[]> {
    return ((await json(await this.#send('GET', 'api/v1/engines'))) as { engines: { name: string; sizelimit: number }[] }).engines;
  }

  /** The job's full record; with `waitSeconds`, once it has ended or that time has passed. */
  async job(id: string, waitSeconds = 0): Promise<JobRecord> {
    const wait = waitSeconds > 0 ? `?wait=${waitSeconds}` : '';
    return (await json(await this.#send('GET', `api/v1/jobs/${encodeURIComponent(id)}${wait}`))) as JobRecord;
  }

  /** A page of the job listing (API v1 filters), newest first. */
  async jobs(query: Record<string, string>): Promise<{ jobs: JobRecord[]; next: string | null }> {
    const q = new URLSearchParams(query).toString();
    return (await json(await this.#send('GET', `api/v1/jobs${q ? `?${q}` : ''}`))) as { jobs: JobRecord[]; next: string | null };
  }

  /** Cancels a job; returns its record. */
  async cancel(id: string): Promise<JobRecord> {
    return (await json(await this.#send('POST', `api/v1/jobs/${encodeURIComponent(id)}/cancel`))) as JobRecord;
  }

  /** Writes a finished job's result (or error text) to `out` ('-': stdout); nothing is left on failure. */
  async result(id: string, out: string): Promise<number> {
    const res = await this.#send('GET', `link/${encodeURIComponent(id)}`);
    if (out === '-') {
      await pipeline(res, process.stdout, { end: false });
      return Number(res.headers['content-length'] ?? 0);
    }
    const part = `${out}.part-${process.pid}`;
    try {
      await pipeline(res, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
      await rename(part, out);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
    return (await stat(out)).size;
  }

  #send(method: string, path: string, headers: Record<string, string> = {}, body?: AsyncIterable<Buffer>): Promise<IncomingMessage> {
    const url = new URL(path, this.#base);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const auth: Record<string, string> = this.#token ? { authorization: `Bearer ${this.#token}` } : {};
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers: { accept: 'application/json', ...auth, ...headers } }, (res) => {
        if ((res.statusCode ?? 0) < 400) return resolve(res);
        json(res).then((j) => {
          const e = (j as { error?: { code?: string; message?: string } }).error;
          reject(new ClientError(res.statusCode ?? 0, e?.code ?? 'HTTP_ERROR', e?.message ?? `the server answered ${res.statusCode}`));
        }, () => reject(new ClientError(res.statusCode ?? 0, 'HTTP_ERROR', `the server answered ${res.statusCode}`)));
      });
      // A server that refuses an upload answers before reading the body and closes: the
      // write may fail first, so an answer arriving just after the error still wins.
      req.on('error', (err) => {
        setTimeout(() => reject(new ClientError(0, 'CONNECTION_FAILED', `cannot reach ${this.#base.origin}: ${err.message}`)), 1000);
      });
      if (!body) return req.end();
      pipeline(body, req).catch((err: Error) => req.destroy(err));
    });
  }
}

async function json(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new ClientError(res.statusCode ?? 0, 'BAD_ANSWER', `the server's answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { StartedJob } from '../jobs/service.js';

/** The frontend could not be reached or failed: retry later, the job is not at fault. */
export class FrontendUnavailable extends Error {}

/** A start that did not give us the job, and why. */
export type StartRefusal = 'finished' | 'busy' | 'missing';

/** The frontend's answer to a start: the wire format is defined beside the service. */
export type { StartedJob } from '../jobs/service.js';

/** What the frontend said about a completion: recorded, or refused because it is stale. */
export type Recorded = 'recorded' | 'stale';

/** The worker's side of the internal API: menage reaches the frontend only through this. */
export class FrontendClient {
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(baseUrl: string, token: string, timeoutMs = 30_000) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  async #call(method: string, path: string, init: { json?: unknown; body?: Readable; headers?: Record<string, string>; signal?: AbortSignal; long?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, ...init.headers };
    let body: BodyInit | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      headers['content-type'] = 'application/octet-stream';
      body = Readable.toWeb(init.body) as unknown as BodyInit;
    }
    const signals = [init.signal, init.long ? undefined : AbortSignal.timeout(this.#timeoutMs)].filter((s): s is AbortSignal => !!s);
    try {
      const res = await fetch(`${this.#base}${path}`, { method, headers, body, signal: AbortSignal.any(signals), ...(init.body ? { duplex: 'half' } : {}) } as RequestInit);
      if (res.status >= 500 || res.status === 429) {
        await res.body?.cancel();
        throw new FrontendUnavailable(`frontend answered ${res.status} to ${method} ${path}`);
      }
      return res;
    } catch (err) {
      if (err instanceof FrontendUnavailable) throw err;
      throw new FrontendUnavailable(`frontend unreachable for ${method} ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * PUTs a streamed body with real backpressure. Node 20's fetch reads a streamed request
   * body as fast as it can and buffers it (a 100 MiB result took 100 MiB of memory).
   */
  async #stream(path: string, body: Readable, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const url = new URL(`${this.#base}${path}`);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = send(url, {
          method: 'PUT', signal,
          headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/octet-stream', ...headers },
        }, resolve);
        req.on('error', reject);
        pipeline(body, req).catch(reject);
      });
    } catch (err) {
      throw new FrontendUnavailable(`frontend unreachable for PUT ${path}: ${(err as Error).message}`, { cause: err });
    }
    const status = res.statusCode ?? 502;
    if (status >= 500 || status === 429) {
      res.resume();
      throw new FrontendUnavailable(`frontend answered ${status} to PUT ${path}`);
    }
    const hasBody = ![204, 205, 304].includes(status);
    if (!hasBody) res.resume();
    return new Response(hasBody ? (Readable.toWeb(res) as unknown as BodyInit) : null, { status });
  }

  async #expect(res: Response, what: string): Promise<never> {
    throw new Error(`${what}: frontend answered ${res.status} ${(await res.text()).slice(0, 300)}`);
  }

  /** Asks for a lease on a job. */
  async start(id: string, worker: string): Promise<StartedJob | StartRefusal> {
    const res = await this.#call('POST', `/internal/jobs/${id}/start`, { json: { worker } });
    if (res.ok) return (await res.json()) as StartedJob;
    if (res.status === 404) return 'missing';
    if (res.status === 409) {
      const code = ((await res.json()) as { error?: { code?: string } }).error?.code;
      return code === 'JOB_BUSY' ? 'busy' : 'finished';
    }
    return this.#expect(res, `start job ${id}`);
  }

  /** Streams a job's input. */
  async input(id: string, signal: AbortSignal): Promise<{ stream: Readable; size: number }> {
    const res = await this.#call('GET', `/internal/jobs/${id}/input`, { signal, long: true });
    if (!res.ok || !res.body) return this.#expect(res, `input of job ${id}`);
    const size = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(size)) throw new FrontendUnavailable(`input of job ${id} came without a length`);
    return { stream: Readable.fromWeb(res.body as WebReadableStream), size };
  }

  /** Streams a result to the frontend. */
  async result(id: string, lease: string, body: Readable, containment: unknown, signal: AbortSignal): Promise<Recorded> {
    const res = await this.#stream(`/internal/jobs/${id}/result`, body,
      { 'x-menagerie-lease': lease, 'x-menagerie-containment': encodeHeader(containment) }, signal);
    return this.#recorded(res, `result of job ${id}`);
  }

  /** Reports a failure the engine is responsible for. */
  async fail(id: string, lease: string, reason: string, detail: string, containment: unknown): Promise<Recorded> {
    const res = await this.#call('POST', `/internal/jobs/${id}/fail`, { json: { lease, reason, detail, containment } });
    return this.#recorded(res, `failure of job ${id}`);
  }

  /** Renews a lease; 'stale' means another worker has the job now. */
  async heartbeat(id: string, lease: string): Promise<Recorded> {
    const res = await this.#call('POST', `/internal/jobs/${id}/heartbeat`, { json: { lease } });
    return this.#recorded(res, `heartbeat of job ${id}`);
  }

  /** Stores the engine's output with the job. */
  async log(id: string, lease: string, text: string): Promise<Recorded> {
    const res = await this.#call('PUT', `/internal/jobs/${id}/log`, {
      body: Readable.from([Buffer.from(text)]), headers: { 'x-menagerie-lease': lease },
    });
    return this.#recorded(res, `output of job ${id}`);
  }

  /** A job's status, or undefined if the frontend does not know it. */
  async status(id: string): Promise<{ status: string; lease: string | null } | undefined> {
    const res = await this.#call('GET', `/internal/jobs/${id}`);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) return this.#expect(res, `status of job ${id}`);
    return (await res.json()) as { status: string; lease: string | null };
  }

  /** Hands a job back to the queue (not the engine's fault); `infrastructure`: an outage, the attempt does not count. */
  async release(id: string, lease: string, error: string, infrastructure = false): Promise<Recorded> {
    const res = await this.#call('POST', `/internal/jobs/${id}/release`, { json: { lease, error: error.slice(0, 1000), ...(infrastructure ? { infrastructure } : {}) } });
    return this.#recorded(res, `release of job ${id}`);
  }

  async #recorded(res: Response, what: string): Promise<Recorded> {
    if (res.ok) {
      await res.body?.cancel();
      return 'recorded';
    }
    if (res.status === 409 || res.status === 404) {
      await res.body?.cancel();
      return 'stale';
    }
    return this.#expect(res, what);
  }
}

/** JSON in an HTTP header: base64, so any content is safe. */
export function encodeHeader(value: unknown): string {
  return Buffer.from(JSON.stringify(value ?? null)).toString('base64');
}

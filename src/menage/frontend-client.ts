import { FrontendUnavailable, WorkerRefused } from '../errors.js';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import {
  CALLS, checkResponse, DETAIL_LIMIT, encodeReport, HEADERS, LOG_LIMIT, pathOf, REASON_LIMIT, RELEASE_ERROR_LIMIT,
  type CallName, type Containment, type EnginesReport, type JobStatusView, type ResponseTypes, type StartedJob,
} from '../contract/index.js';
import { HttpSender } from './http-send.js';

/** A start that did not give us the job, and why. */
export type StartRefusal = 'finished' | 'busy' | 'missing';

export type { StartedJob } from '../contract/index.js';

/** What the frontend said about a completion: recorded, or refused because it is stale. */
export type Recorded = 'recorded' | 'stale';

/**
 * The worker's side of the internal API (src/contract): menage reaches the frontend only
 * through this. Every JSON answer is checked against the contract's schema.
 */
export class FrontendClient {
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #http: HttpSender;

  /** `ca`: the PEM CA an https:// frontend's certificate must chain to. */
  constructor(baseUrl: string, token: string, opts: { timeoutMs?: number; ca?: Buffer | string } = {}) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#http = new HttpSender(this.#base, opts.ca ? { ca: opts.ca } : {});
  }

  /** Closes idle connections to the frontend. */
  close(): void {
    this.#http.close();
  }

  /** Turns the answers no caller can act on into errors: outages, and a refused token. */
  async #vet(res: Response, method: string, path: string): Promise<Response> {
    if (res.status >= 500 || res.status === 429 || res.status === 401) await res.body?.cancel().catch(() => undefined);
    if (res.status === 401) {
      throw new WorkerRefused(`the frontend refused this node's token (401) for ${method} ${path}: revoked, or not a worker token (menage.token)`);
    }
    if (res.status >= 500 || res.status === 429) throw new FrontendUnavailable(`frontend answered ${res.status} to ${method} ${path}`);
    return res;
  }

  async #call(call: CallName, id: string, init: { json?: unknown; body?: Readable; headers?: Record<string, string>; signal?: AbortSignal; long?: boolean } = {}): Promise<Response> {
    const { method } = CALLS[call];
    const path = pathOf(call, id);
    const headers: Record<string, string> = { [HEADERS.authorization]: `Bearer ${this.#token}`, ...init.headers };
    let body: Readable | string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body) {
      headers['content-type'] = 'application/octet-stream';
      body = init.body;
    }
    const signals = [init.signal, init.long ? undefined : AbortSignal.timeout(this.#timeoutMs)].filter((s): s is AbortSignal => !!s);
    try {
      const res = await this.#http.send(new URL(`${this.#base}${path}`), { method, headers, ...(body === undefined ? {} : { body }), signal: AbortSignal.any(signals) });
      return await this.#vet(res, method, path);
    } catch (err) {
      if (err instanceof FrontendUnavailable) throw err;
      throw new FrontendUnavailable(`frontend unreachable for ${method} ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** PUTs a streamed body with real backpressure and no timeout (it takes as long as the result is big). */
  async #stream(call: 'result', id: string, body: Readable, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const { method } = CALLS[call];
    const url = new URL(`${this.#base}${pathOf(call, id)}`);
    let res: Response;
    try {
      res = await this.#http.send(url, { method, signal, body,
        headers: { [HEADERS.authorization]: `Bearer ${this.#token}`, 'content-type': 'application/octet-stream', ...headers } });
    } catch (err) {
      throw new FrontendUnavailable(`frontend unreachable for ${method} ${url.pathname}: ${(err as Error).message}`, { cause: err });
    }
    return this.#vet(res, method, url.pathname);
  }

  /** The answer's JSON, checked against the contract (the error shape when not ok). */
  async #answer<K extends keyof ResponseTypes>(res: Response, name: K, what: string): Promise<ResponseTypes[K]> {
    const text = await res.text().catch(() => '');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    const checked = checkResponse(res.ok ? name : 'error', value);
    if (!checked.ok) throw new FrontendUnavailable(`${what}: frontend answered ${res.status} outside the contract (${checked.problems})`);
    return checked.value as ResponseTypes[K];
  }

  /**
   * Reads a 404: true when the job is unknown. Any other 404 (`NOT_FOUND`: no such route)
   * means frontendUrl is not the internal listener; that is never read as "no such job",
   * which would drop the job or make the orphan sweeper remove its container.
   */
  async #jobMissing(res: Response, what: string): Promise<boolean> {
    const answer = await this.#answer(res, 'error', what);
    if (answer.error.code === 'JOB_NOT_FOUND') return true;
    throw new FrontendUnavailable(`${what}: ${this.#base} answered 404 ${answer.error.code}: is menage.frontendUrl the frontend's internal listener?`);
  }

  async #expect(res: Response, what: string): Promise<never> {
    const answer = await this.#answer(res, 'error', what);
    throw new Error(`${what}: frontend answered ${res.status} ${answer.error.code}: ${answer.error.message.slice(0, 300)}`);
  }

  /** Whether the frontend's internal API answers and its dependencies are up. */
  async health(): Promise<ResponseTypes['health']> {
    const res = await this.#call('health', '');
    if (!res.ok) return this.#expect(res, 'health');
    return this.#answer(res, 'health', 'health');
  }

  /** Asks for a lease on a job. */
  async start(id: string, worker: string): Promise<StartedJob | StartRefusal> {
    const res = await this.#call('start', id, { json: { worker } });
    if (res.ok) return this.#answer(res, 'start', `start job ${id}`);
    if (res.status === 404 && (await this.#jobMissing(res, `start job ${id}`))) return 'missing';
    if (res.status === 409) return (await this.#answer(res, 'error', `start job ${id}`)).error.code === 'JOB_BUSY' ? 'busy' : 'finished';
    return this.#expect(res, `start job ${id}`);
  }

  /** Streams a job's input. */
  async input(id: string, signal: AbortSignal): Promise<{ stream: Readable; size: number }> {
    const res = await this.#call('input', id, { signal, long: true });
    if (!res.ok || !res.body) return this.#expect(res, `input of job ${id}`);
    const size = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(size)) throw new FrontendUnavailable(`input of job ${id} came without a length`);
    return { stream: Readable.fromWeb(res.body as WebReadableStream), size };
  }

  /**
   * Streams a result to the frontend: the body is the containment report (JSON, its length
   * in a header) followed by the result bytes, so the report is never cut (see CALLS.result).
   */
  async result(id: string, lease: string, body: Readable, containment: Containment | null | undefined, signal: AbortSignal, output = ''): Promise<Recorded> {
    const report = encodeReport(containment);
    // The engine's output rides in the same call (its last LOG_LIMIT bytes, as `log` keeps).
    const log = tail(Buffer.from(output), LOG_LIMIT);
    const framed = Readable.from((async function* () {
      yield report.head;
      if (log.length) yield log;
      yield* body;
    })());
    const headers = { [HEADERS.lease]: lease, [HEADERS.reportLength]: report.length, ...(log.length ? { [HEADERS.logLength]: String(log.length) } : {}) };
    const res = await this.#stream('result', id, framed, headers, signal);
    return this.#recorded(res, 'result', `result of job ${id}`);
  }

  /** Reports a failure the engine is responsible for (the detail keeps the end of the output). */
  async fail(id: string, lease: string, reason: string, detail: string, containment: Containment | null | undefined, detailIsLog = false): Promise<Recorded> {
    const whole = detail.length <= DETAIL_LIMIT;
    const json = { lease, reason: reason.slice(0, REASON_LIMIT), detail: whole ? detail : detail.slice(-DETAIL_LIMIT), containment: containment ?? null,
      ...(detailIsLog && whole && detail ? { log: true } : {}) };
    const res = await this.#call('fail', id, { json });
    return this.#recorded(res, 'fail', `failure of job ${id}`);
  }

  /** Renews a lease; 'stale' means another worker has the job now. */
  async heartbeat(id: string, lease: string): Promise<Recorded> {
    const res = await this.#call('heartbeat', id, { json: { lease } });
    return this.#recorded(res, 'heartbeat', `heartbeat of job ${id}`);
  }

  /** Stores the engine's output with the job. */
  async log(id: string, lease: string, text: string): Promise<Recorded> {
    const res = await this.#call('log', id, { body: Readable.from([Buffer.from(text)]), headers: { [HEADERS.lease]: lease } });
    return this.#recorded(res, 'log', `output of job ${id}`);
  }

  /** A job's status, or undefined if the frontend does not know it. */
  async status(id: string): Promise<JobStatusView | undefined> {
    const res = await this.#call('status', id);
    if (res.status === 404 && (await this.#jobMissing(res, `status of job ${id}`))) return undefined;
    if (!res.ok) return this.#expect(res, `status of job ${id}`);
    return this.#answer(res, 'status', `status of job ${id}`);
  }

  /** Records the warm-pool container about to run the job; 'stale' if the lease is not current. */
  async bindContainer(id: string, lease: string, container: string): Promise<Recorded> {
    const res = await this.#call('container', id, { json: { lease, container } });
    return this.#recorded(res, 'container', `container of job ${id}`);
  }

  /** The job a warm-pool container was recorded for, or undefined if none was. */
  async containerJob(container: string): Promise<JobStatusView | undefined> {
    const what = `job of container ${container.slice(0, 12)}`;
    const res = await this.#call('containerJob', container);
    if (res.status === 404) {
      const answer = await this.#answer(res, 'error', what);
      if (answer.error.code === 'CONTAINER_NOT_FOUND') return undefined;
      throw new FrontendUnavailable(`${what}: ${this.#base} answered 404 ${answer.error.code}: is menage.frontendUrl the frontend's internal listener?`);
    }
    if (!res.ok) return this.#expect(res, what);
    return this.#answer(res, 'containerJob', what);
  }

  /** Reports this node's engines (image digests, slots) to the frontend. */
  async reportEngines(report: EnginesReport): Promise<void> {
    const res = await this.#call('engines', '', { json: report });
    if (!res.ok) return this.#expect(res, 'engine report');
    await this.#answer(res, 'engines', 'engine report');
  }

  /** Hands a job back to the queue (not the engine's fault); `infrastructure` marks an outage of our own services. */
  async release(id: string, lease: string, error: string, infrastructure?: boolean): Promise<Recorded> {
    const json = { lease, error: error.slice(0, RELEASE_ERROR_LIMIT) || 'unknown', ...(infrastructure === undefined ? {} : { infrastructure }) };
    const res = await this.#call('release', id, { json });
    return this.#recorded(res, 'release', `release of job ${id}`);
  }

  async #recorded(res: Response, name: 'result' | 'fail' | 'heartbeat' | 'log' | 'release' | 'container', what: string): Promise<Recorded> {
    if (res.ok) {
      await this.#answer(res, name, what);
      return 'recorded';
    }
    if (res.status === 404 && (await this.#jobMissing(res, what))) return 'stale';
    if (res.status === 409) {
      await this.#answer(res, 'error', what);
      return 'stale';
    }
    return this.#expect(res, what);
  }
}

/** The last `limit` bytes of `b`. */
function tail(b: Buffer, limit: number): Buffer {
  return b.length > limit ? b.subarray(b.length - limit) : b;
}

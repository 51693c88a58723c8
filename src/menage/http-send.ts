import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** One request: its body is sent with backpressure (a stream is never buffered whole). */
export interface SendInit {
  method: string;
  headers: Record<string, string>;
  body?: Readable | Buffer | string;
  signal?: AbortSignal;
}

/**
 * A minimal HTTP(S) client for the internal API. Not `fetch`: Node's fetch cannot be given a
 * CA to trust (the frontend's certificate comes from the appliance's own CA, named in the
 * configuration), and it reads a streamed request body as fast as it can and buffers it.
 */
export class HttpSender {
  readonly #agent: HttpAgent;
  readonly #https: boolean;

  /** `ca`: PEM certificates an https:// frontend's certificate must chain to (default: the system's). */
  constructor(baseUrl: string, opts: { ca?: Buffer | string } = {}) {
    this.#https = new URL(baseUrl).protocol === 'https:';
    if (opts.ca && !this.#https) throw new Error(`a CA for the frontend is set but ${baseUrl} is not https://`);
    // As Node's global agent: idle connections kept, and closed before the server's keep-alive
    // timeout (Node reads the server's Keep-Alive hint), so a reused one is never half-closed.
    const keep = { keepAlive: true, scheduling: 'lifo', timeout: 5000 } as const;
    this.#agent = this.#https ? new HttpsAgent({ ...keep, ...(opts.ca ? { ca: opts.ca } : {}) }) : new HttpAgent(keep);
  }

  /** Sends the request; resolves with the answer as a WHATWG Response once its head is in. */
  async send(url: URL, init: SendInit): Promise<Response> {
    const send = this.#https ? httpsRequest : httpRequest;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, { method: init.method, headers: init.headers, agent: this.#agent, ...(init.signal ? { signal: init.signal } : {}) }, resolve);
      req.on('error', reject);
      if (init.body instanceof Readable) pipeline(init.body, req).catch(reject);
      else req.end(init.body);
    });
    res.on('error', () => undefined); // surfaced to whoever reads the body
    const status = res.statusCode ?? 502;
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    const hasBody = ![204, 205, 304].includes(status) && init.method !== 'HEAD';
    if (!hasBody) res.resume();
    return new Response(hasBody ? (Readable.toWeb(res) as unknown as BodyInit) : null, { status, headers });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
  }
}

import type { DueDelivery, WebhookOutbox } from '../jobs/webhook-outbox.js';
import { nextAttemptDelay } from './backoff.js';
import { sign, WEBHOOK_HEADERS } from './signature.js';
import type { Logger } from '../log/logger.js';

export interface WebhookDispatcherDeps {
  outbox: WebhookOutbox;
  /** The final record of a job, as GET /api/v1/jobs/<id> shows it; undefined if the job is gone. */
  record: (jobId: string) => Promise<unknown>;
  secret: string;
  maxAttempts: number;
  timeoutMs: number;
  firstRetryMs: number;
  log: Logger;
  /** How often the outbox is checked for due deliveries. */
  pollMs?: number;
}

/**
 * Delivers webhooks from the durable outbox (webhook_deliveries): POSTs each finished job's
 * record to its callback, signed (signature.ts), retrying with exponential backoff up to
 * `maxAttempts`. It runs beside the request path: a worker's report only writes the outbox
 * row, in the transaction that ends the job, and never waits for a receiver. Redirects are
 * not followed (a 3xx is a failure): the allowed prefix must hold for the URL actually hit.
 */
export class WebhookDispatcher {
  readonly #d: WebhookDispatcherDeps;
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(deps: WebhookDispatcherDeps) {
    this.#d = deps;
  }

  /** Starts polling the outbox. */
  start(): void {
    const loop = (): void => {
      this.#tick = this.runOnce().catch((err: Error) => this.#d.log.error({ err }, `webhooks: ${err.message}`)).finally(() => {
        if (!this.#stop.signal.aborted) this.#timer = setTimeout(loop, this.#d.pollMs ?? 1000);
      });
    };
    loop();
  }

  /** Attempts every delivery due now, at once; resolves when all are settled. */
  async runOnce(): Promise<void> {
    const now = new Date();
    const due = await this.#d.outbox.due(now);
    await Promise.all(due.map(async (d) => {
      if (await this.#d.outbox.claim(d, now, new Date(now.getTime() + this.#d.timeoutMs + 30_000))) await this.#attempt(d);
    }));
  }

  async #attempt(d: DueDelivery): Promise<void> {
    const attempt = d.attempts + 1;
    try {
      const record = await this.#d.record(d.jobId);
      if (record === undefined) {
        await this.#d.outbox.failed(d.id, 'the job no longer exists', null);
        return;
      }
      const status = await this.#post(d, JSON.stringify(record));
      if (status >= 200 && status < 300) {
        await this.#d.outbox.delivered(d.id);
        return;
      }
      await this.#failed(d, attempt, `the receiver answered ${status}`);
    } catch (err) {
      await this.#failed(d, attempt, (err as Error).message).catch((e: Error) => this.#d.log.error({ err: e, jobid: d.jobId }, `webhooks: ${e.message}`));
    }
  }

  async #post(d: DueDelivery, body: string): Promise<number> {
    const timestamp = Math.floor(Date.now() / 1000);
    const res = await fetch(d.url, {
      method: 'POST', body, redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(this.#d.timeoutMs), this.#stop.signal]),
      headers: {
        'content-type': 'application/json', 'user-agent': 'menagerie-webhooks',
        [WEBHOOK_HEADERS.signature]: sign(this.#d.secret, timestamp, body),
        [WEBHOOK_HEADERS.timestamp]: String(timestamp),
        // The same on every attempt, so a receiver can drop a delivery it already processed.
        [WEBHOOK_HEADERS.delivery]: d.id,
      },
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status;
  }

  async #failed(d: DueDelivery, attempt: number, why: string): Promise<void> {
    const delay = nextAttemptDelay(attempt, this.#d.maxAttempts, Math.random, this.#d.firstRetryMs);
    await this.#d.outbox.failed(d.id, why, delay === null ? null : new Date(Date.now() + delay));
    this.#d.log.child({ jobid: d.jobId }).warn({ deliveryAttempt: attempt, delivery: d.id }, delay === null
      ? `webhook for job ${d.jobId}: gave up after ${attempt} attempts (${why})`
      : `webhook for job ${d.jobId}: attempt ${attempt} failed (${why}); next in ${Math.round(delay / 1000)} s`);
  }

  /** Stops polling and waits for the attempt under way; safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      clearTimeout(this.#timer);
      await this.#tick?.catch(() => undefined);
    })();
    return this.#closing;
  }
}

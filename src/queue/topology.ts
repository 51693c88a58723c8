import type { Channel } from 'amqplib';

/** The message a job puts on its engine's queue; MySQL holds everything else. */
export interface JobMessage {
  jobId: string;
  engine: string;
  /** When the message was published (ms since the epoch, header `x-published-at`): menage's queue-wait metric. */
  publishedAt?: number;
}

/** The header a job message's publication time travels in (milliseconds since the epoch). */
export const PUBLISHED_AT_HEADER = 'x-published-at';

/** Names of the broker objects for one deployment (the prefix keeps deployments apart). */
export function names(prefix: string): { queue: (engine: string) => string; deadLetter: string; poison: string; cancel: string } {
  return { queue: (engine) => `${prefix}.engine.${engine}`, deadLetter: `${prefix}.dead-letter`, poison: `${prefix}.poison`, cancel: `${prefix}.cancel` };
}

/** How often a message may be delivered before the broker dead-letters it. */
export const DELIVERY_LIMIT = 10;

/**
 * Declares the dead-letter exchange and queue and one durable quorum queue per engine.
 * Frontend and menage both declare (idempotently) so either may start first.
 */
export async function declareTopology(ch: Channel, prefix: string, engines: readonly string[]): Promise<void> {
  const n = names(prefix);
  await ch.assertExchange(n.deadLetter, 'fanout', { durable: true });
  await ch.assertQueue(n.deadLetter, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(n.deadLetter, n.deadLetter, '');
  await ch.assertQueue(n.poison, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  for (const engine of engines) {
    await ch.assertQueue(n.queue(engine), {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': n.deadLetter,
        'x-delivery-limit': DELIVERY_LIMIT,
      },
    });
  }
}

/** Parses a delivered message body; undefined for anything malformed (a poison message). */
export function parseMessage(content: Buffer, headers?: Record<string, unknown>): JobMessage | undefined {
  try {
    const m = JSON.parse(content.toString('utf8')) as Partial<JobMessage>;
    if (typeof m.jobId === 'string' && /^[1-9][0-9]{0,17}$/.test(m.jobId) && typeof m.engine === 'string') {
      const at = Number(headers?.[PUBLISHED_AT_HEADER]);
      return { jobId: m.jobId, engine: m.engine, ...(Number.isFinite(at) && at > 0 ? { publishedAt: at } : {}) };
    }
  } catch {
    // fall through: not JSON
  }
  return undefined;
}

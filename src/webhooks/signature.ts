import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header names of a webhook delivery. */
export const WEBHOOK_HEADERS = {
  signature: 'x-menagerie-signature',
  timestamp: 'x-menagerie-timestamp',
  delivery: 'x-menagerie-delivery',
} as const;

/**
 * The signature of a delivery: `sha256=<hex>` of HMAC-SHA256 under the shared secret over
 * `<timestamp>.<body>` (timestamp in Unix seconds, as sent in X-Menagerie-Timestamp), so a
 * receiver can refuse a replayed or altered body.
 */
export function sign(secret: string, timestamp: number, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * What a receiver does: checks the signature in constant time and that the timestamp is
 * within `toleranceS` of `nowS`. Exported for receivers written in Node and for tests.
 */
export function verify(secret: string, header: string | undefined, timestamp: string | undefined, body: string | Buffer,
  nowS = Math.floor(Date.now() / 1000), toleranceS = 300): boolean {
  if (!header || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowS - Number(timestamp)) > toleranceS) return false;
  const expected = Buffer.from(sign(secret, Number(timestamp), body));
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

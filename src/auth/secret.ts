import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The prefix of every API token, so that scanners and people can tell one from other secrets. */
export const TOKEN_PREFIX = 'mng_';

/** The shape of a token this appliance issued: prefix, then 32 base64url characters. */
export const TOKEN_PATTERN = /^mng_[A-Za-z0-9_-]{32}$/;

/** A new random API token (192 bits), shown once to its holder and never stored. */
export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/**
 * What is stored for a token: its HMAC-SHA256 under the server's key, so that a copy of the
 * database alone cannot be turned back into tokens or checked against guesses.
 */
export function hashToken(key: string, token: string): string {
  return createHmac('sha256', key).update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The first characters after the prefix, shown in listings to tell tokens apart. */
export function tokenHint(token: string): string {
  return token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 6);
}

import { InvalidError } from '../errors.js';

/** The longest callback URL (the column's width). */
export const CALLBACK_LIMIT = 2048;

/**
 * Checks a `callback=` URL: an absolute http(s) URL without credentials that starts with one
 * of the allowed prefixes (each ends its host part with `/`, so `https://hooks.example/` does
 * not allow `https://hooks.example.evil/`). None configured: callbacks are refused.
 */
export function checkCallback(raw: string | undefined, allowedPrefixes: readonly string[]): string | null {
  if (raw === undefined || raw === '') return null;
  const refuse = (why: string): never => {
    throw new InvalidError('INVALID_CALLBACK', `callback ${JSON.stringify(raw.slice(0, 200))} is not allowed: ${why}`);
  };
  if (raw.length > CALLBACK_LIMIT) refuse(`longer than ${CALLBACK_LIMIT} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse('only http and https URLs are allowed');
  if (url.username || url.password) refuse('credentials in the URL are not allowed');
  // Compared as the URL parser normalised it, so spelling tricks (case, dot segments) cannot pass.
  if (url.href !== raw) refuse(`write it in normal form (${url.href.slice(0, 200)})`);
  if (allowedPrefixes.length === 0) refuse('this server accepts no callbacks (webhooks.allowedPrefixes is empty)');
  if (!allowedPrefixes.some((p) => raw.startsWith(p))) refuse('it does not start with an allowed prefix');
  return raw;
}

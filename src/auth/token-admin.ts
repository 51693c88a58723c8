import { setTimeout as delay } from 'node:timers/promises';
import { InvalidError } from '../errors.js';
import { TOKEN_TRUST_MS } from './authenticator.js';
import { isRole, ROLES, type Role } from './roles.js';
import { hashToken, newToken, tokenHint } from './secret.js';
import type { TokenRecord, TokenStore } from './token-store.js';

/** Names and owners: short, printable, no spaces (they appear in listings and logs). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

/** What `menagerie token list` shows of a token (never the token or its hash). */
export interface TokenListing {
  id: string;
  name: string;
  owner: string;
  role: Role;
  hint: string;
  created: string;
  lastUsed: string | null;
  revoked: string | null;
}

/**
 * Creates a token and returns it: the only time it is ever shown. Its name must not be in
 * use by an active token; the owner defaults to the name.
 */
export async function createToken(store: TokenStore, key: string, req: { name: string; role: string; owner?: string }): Promise<{ id: string; token: string }> {
  const owner = req.owner ?? req.name;
  if (!NAME.test(req.name)) throw new InvalidError('INVALID_REQUEST', `token name ${JSON.stringify(req.name)} must match ${NAME.source}`);
  if (!NAME.test(owner)) throw new InvalidError('INVALID_REQUEST', `owner ${JSON.stringify(owner)} must match ${NAME.source}`);
  if (!isRole(req.role)) throw new InvalidError('INVALID_REQUEST', `role ${JSON.stringify(req.role)} is not one of ${ROLES.join(', ')}`);
  if ((await store.activeByName(req.name)).length > 0) {
    throw new InvalidError('INVALID_REQUEST', `an active token is already named "${req.name}"; revoke it or pick another name`);
  }
  const token = newToken();
  const id = await store.create({ name: req.name, owner, role: req.role, hash: hashToken(key, token), hint: tokenHint(token) });
  return { id, token };
}

/**
 * Revokes the token with this id, or every active token with this name; returns how many.
 * It answers only once every frontend has stopped trusting what it looked up before (a
 * frontend keeps a lookup for TOKEN_TRUST_MS), so the token is refused from then on.
 */
export async function revokeTokens(store: TokenStore, idOrName: string): Promise<number> {
  const n = await store.revoke(idOrName);
  if (n > 0) await delay(TOKEN_TRUST_MS);
  return n;
}

/** Every token, for listing. */
export async function listTokens(store: TokenStore): Promise<TokenListing[]> {
  return (await store.list()).map(listing);
}

function listing(t: TokenRecord): TokenListing {
  return {
    id: t.id, name: t.name, owner: t.owner, role: t.role, hint: t.hint, created: t.createdAt.toISOString(),
    lastUsed: t.lastUsedAt?.toISOString() ?? null, revoked: t.revokedAt?.toISOString() ?? null,
  };
}

import { UnauthorizedError } from '../errors.js';
import { OPEN, type Principal } from './roles.js';
import { hashToken, sameHash, TOKEN_PATTERN } from './secret.js';
import type { TokenStore } from './token-store.js';

/** How the public API authenticates: API tokens (the default), or open as the original was. */
export type AuthMode = 'tokens' | 'open';

/** How often at most a token's last use is written. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Turns an `Authorization` header into a principal, or refuses it (401). A missing, malformed,
 * unknown and revoked token get the same answer, so the answer tells nothing about tokens.
 */
export class Authenticator {
  readonly mode: AuthMode;
  readonly #key: string;
  readonly #store: TokenStore | undefined;
  readonly #touched = new Map<string, number>();

  constructor(opts: { mode: 'open' } | { mode: 'tokens'; key: string; store: TokenStore }) {
    this.mode = opts.mode;
    this.#key = opts.mode === 'tokens' ? opts.key : '';
    this.#store = opts.mode === 'tokens' ? opts.store : undefined;
  }

  /** The caller behind `authorization` (the header's value), or an UnauthorizedError. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (this.mode === 'open' || !this.#store) return OPEN;
    const token = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? '';
    // Hashing happens whatever the shape, so timing does not tell a malformed token apart.
    const hash = hashToken(this.#key, token);
    if (!TOKEN_PATTERN.test(token)) throw new UnauthorizedError();
    const record = await this.#store.findByHash(hash);
    if (!record || record.revokedAt || !sameHash(record.hash, hash)) throw new UnauthorizedError();
    this.#touch(record.id);
    return { kind: 'token', tokenId: record.id, name: record.name, owner: record.owner, role: record.role };
  }

  #touch(id: string): void {
    const now = Date.now();
    if (now - (this.#touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    if (this.#touched.size > 10_000) this.#touched.clear();
    this.#store?.touch(id).catch(() => undefined);
  }
}

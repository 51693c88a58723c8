import { UnauthorizedError } from '../errors.js';
import { OPEN, type Principal, type Role } from './roles.js';
import { hashToken, sameHash, TOKEN_PATTERN } from './secret.js';
import type { TokenRecord, TokenStore } from './token-store.js';

/** How the public API authenticates: API tokens (the default), or open as the original was. */
export type AuthMode = 'tokens' | 'open';

/** How often at most a token's last use is written. */
const TOUCH_EVERY_MS = 60_000;

/**
 * How long a frontend trusts a token it has looked up before it asks the database again.
 * Revoking waits this long before it answers (token-admin's `revokeTokens`), so a revoked
 * token is refused by every frontend once the command returns.
 */
export const TOKEN_TRUST_MS = 1_000;

/** Most lookups kept (a flood of distinct valid tokens only costs queries, never memory). */
const TRUSTED_MAX = 10_000;

/**
 * Turns an `Authorization` header into a principal, or refuses it (401). A missing, malformed,
 * unknown and revoked token get the same answer, so the answer tells nothing about tokens.
 */
export class Authenticator {
  readonly mode: AuthMode;
  readonly #key: string;
  readonly #store: TokenStore | undefined;
  readonly #touched = new Map<string, number>();
  /**
   * Recent lookups by token hash: each request used to cost a query, which at 1,000 requests
   * a second was a large share of the frontend's CPU. Concurrent requests share one lookup.
   */
  readonly #trusted = new Map<string, { lookup: Promise<TokenRecord | undefined>; until: number }>();

  /** In the open mode a key and store, when given, still serve `hasRole` (worker tokens). */
  constructor(opts: { mode: 'open'; key?: string; store?: TokenStore } | { mode: 'tokens'; key: string; store: TokenStore }) {
    this.mode = opts.mode;
    this.#key = opts.key ?? '';
    this.#store = opts.key ? opts.store : undefined;
  }

  /** The caller behind `authorization` (the header's value), or an UnauthorizedError. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (this.mode === 'open') return OPEN;
    if (!this.#store) throw new UnauthorizedError();
    const record = await this.#active(/^Bearer (\S+)$/.exec(authorization ?? '')?.[1] ?? '');
    if (!record) throw new UnauthorizedError();
    this.#touch(record.id);
    return { kind: 'token', tokenId: record.id, name: record.name, owner: record.owner, role: record.role };
  }

  /**
   * Whether `token` is an active token of `role`, whatever the public API's mode: the
   * internal API takes worker tokens (one per worker node, revocable) besides its shared one.
   */
  async hasRole(token: string, role: Role): Promise<boolean> {
    const record = await this.#active(token);
    if (record?.role !== role) return false;
    this.#touch(record.id);
    return true;
  }

  /** The active (not revoked) token record behind `token`; undefined otherwise. */
  async #active(token: string): Promise<TokenRecord | undefined> {
    // Hashing happens whatever the shape, so timing does not tell a malformed token apart.
    const hash = hashToken(this.#key, token);
    if (!this.#store || !TOKEN_PATTERN.test(token)) return undefined;
    const now = performance.now();
    const seen = this.#trusted.get(hash);
    if (seen && seen.until > now) return seen.lookup;
    const lookup = this.#store.findByHash(hash).then((r) => (r && !r.revokedAt && sameHash(r.hash, hash) ? r : undefined));
    // Trusted from the moment the query was sent: a revocation committed after it is seen
    // at most TOKEN_TRUST_MS later. Unknown and revoked tokens, and failures, are not kept.
    const entry = { lookup, until: now + TOKEN_TRUST_MS };
    if (this.#trusted.size >= TRUSTED_MAX) this.#trusted.clear();
    this.#trusted.set(hash, entry);
    const forget = (): void => {
      if (this.#trusted.get(hash) === entry) this.#trusted.delete(hash);
    };
    lookup.then((r) => {
      if (!r) forget();
    }, forget);
    return lookup;
  }

  #touch(id: string): void {
    const now = Date.now();
    if (now - (this.#touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    if (this.#touched.size > 10_000) this.#touched.clear();
    this.#store?.touch(id).catch(() => undefined);
  }
}

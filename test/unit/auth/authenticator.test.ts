import { expect } from 'chai';
import { setTimeout as delay } from 'node:timers/promises';
import { Authenticator, TOKEN_TRUST_MS } from '../../../src/auth/authenticator.js';
import { hashToken, newToken } from '../../../src/auth/secret.js';
import { revokeTokens } from '../../../src/auth/token-admin.js';
import type { TokenRecord, TokenStore } from '../../../src/auth/token-store.js';

const KEY = 'unit-test-key';

/**
 * A token table in memory that counts its lookups (the real store's path is covered by
 * test/e2e/auth.test.ts against MariaDB; this tells how often the authenticator asks).
 */
class CountingStore {
  lookups = 0;
  fail = false;
  readonly rows = new Map<string, TokenRecord>();

  add(token: string, role: TokenRecord['role'] = 'submit'): TokenRecord {
    const hash = hashToken(KEY, token);
    const record: TokenRecord = {
      id: String(this.rows.size + 1), name: `t${this.rows.size + 1}`, owner: 'o', role, hash, hint: 'h',
      createdAt: new Date(), lastUsedAt: null, revokedAt: null,
    };
    this.rows.set(hash, record);
    return record;
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    this.lookups++;
    await delay(2);
    if (this.fail) throw new Error('database unavailable');
    const r = this.rows.get(hash);
    return r && { ...r };
  }

  async revoke(idOrName: string): Promise<number> {
    let n = 0;
    for (const r of this.rows.values()) {
      if ((r.id === idOrName || r.name === idOrName) && !r.revokedAt) {
        r.revokedAt = new Date();
        n++;
      }
    }
    return n;
  }

  async touch(): Promise<void> {}
}

function setUp(): { store: CountingStore; auth: Authenticator } {
  const store = new CountingStore();
  const auth = new Authenticator({ mode: 'tokens', key: KEY, store: store as unknown as TokenStore });
  return { store, auth };
}

const bearer = (token: string): string => `Bearer ${token}`;
const refused = (p: Promise<unknown>): Promise<string> => p.then(() => 'accepted', (e: Error) => e.constructor.name);

describe('auth: the authenticator keeps lookups briefly', () => {
  it('concurrent requests with one token share one lookup, and later ones reuse it within TOKEN_TRUST_MS', async () => {
    const { store, auth } = setUp();
    const token = newToken();
    store.add(token);
    const who = await Promise.all(Array.from({ length: 200 }, () => auth.authenticate(bearer(token))));
    expect(new Set(who.map((p) => p.kind === 'token' && p.name))).to.deep.equal(new Set(['t1']));
    expect(store.lookups).to.equal(1);
    for (let i = 0; i < 50; i++) await auth.authenticate(bearer(token));
    expect(store.lookups).to.equal(1);
    await delay(TOKEN_TRUST_MS + 20);
    await auth.authenticate(bearer(token));
    expect(store.lookups, 'asked again once the lookup is older than TOKEN_TRUST_MS').to.equal(2);
  });

  it('a token revoked behind its back is refused once TOKEN_TRUST_MS has passed; revokeTokens answers only then', async () => {
    const { store, auth } = setUp();
    const [a, b] = [newToken(), newToken()];
    store.add(a);
    store.add(b);
    await auth.authenticate(bearer(a));
    await auth.authenticate(bearer(b));
    expect(await store.revoke('t1')).to.equal(1);
    // The lookup made before the revocation is still trusted: this is the window revokeTokens waits out.
    expect(await refused(auth.authenticate(bearer(a)))).to.equal('accepted');
    const started = performance.now();
    expect(await revokeTokens(store as unknown as TokenStore, 't2')).to.equal(1);
    expect(performance.now() - started).to.be.at.least(TOKEN_TRUST_MS - 1);
    expect(await refused(auth.authenticate(bearer(a)))).to.equal('UnauthorizedError');
    expect(await refused(auth.authenticate(bearer(b)))).to.equal('UnauthorizedError');
    expect(await revokeTokens(store as unknown as TokenStore, 'nobody'), 'nothing to revoke: no wait, 0').to.equal(0);
  });

  it('unknown, revoked and malformed tokens are never kept: each is looked up (or refused) again', async () => {
    const { store, auth } = setUp();
    const revoked = newToken();
    store.add(revoked).revokedAt = new Date();
    const unknown = newToken();
    for (let i = 0; i < 3; i++) {
      expect(await refused(auth.authenticate(bearer(unknown)))).to.equal('UnauthorizedError');
      expect(await refused(auth.authenticate(bearer(revoked)))).to.equal('UnauthorizedError');
      expect(await refused(auth.authenticate(bearer('mng_short')))).to.equal('UnauthorizedError');
      expect(await refused(auth.authenticate(undefined))).to.equal('UnauthorizedError');
    }
    expect(store.lookups, 'one lookup per well-formed token per request, none for malformed ones').to.equal(6);
    // A token created after a failed lookup is accepted at once: the miss was not remembered.
    store.rows.set(hashToken(KEY, unknown), { ...store.add(newToken()), hash: hashToken(KEY, unknown), name: 'late' });
    expect(await refused(auth.authenticate(bearer(unknown)))).to.equal('accepted');
  });

  it('a failed lookup fails the requests that shared it and is not kept', async () => {
    const { store, auth } = setUp();
    const token = newToken();
    store.add(token);
    store.fail = true;
    const results = await Promise.all([1, 2, 3].map(() => refused(auth.authenticate(bearer(token)))));
    expect(results).to.deep.equal(['Error', 'Error', 'Error']);
    expect(store.lookups).to.equal(1);
    store.fail = false;
    expect(await refused(auth.authenticate(bearer(token)))).to.equal('accepted');
    expect(store.lookups).to.equal(2);
  });

  it('worker tokens for the internal API go through the same lookups (hasRole)', async () => {
    const { store, auth } = setUp();
    const worker = newToken();
    store.add(worker, 'worker');
    expect(await auth.hasRole(worker, 'worker')).to.equal(true);
    expect(await auth.hasRole(worker, 'admin')).to.equal(false);
    expect(await auth.hasRole(worker, 'worker')).to.equal(true);
    expect(store.lookups).to.equal(1);
  });
});

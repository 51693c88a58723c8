import { expect } from 'chai';
import { grant, OPEN, ROLES, type Action, type Principal, type Role } from '../../../src/auth/roles.js';
import { hashToken, newToken, sameHash, TOKEN_PATTERN } from '../../../src/auth/secret.js';
import { RateLimiter } from '../../../src/http/rate-limit.js';

const token = (role: Role): Principal => ({ kind: 'token', tokenId: '1', name: 'n', owner: 'o', role });

describe('auth: roles, secrets and the upload rate', () => {
  it('grants each role exactly its actions (table)', () => {
    const table: Record<Role | 'open', Record<Action, false | 'all' | 'own'>> = {
      submit: { submit: 'all', read: 'own', cancel: 'own', admin: false, metrics: false },
      read: { submit: false, read: 'all', cancel: false, admin: false, metrics: 'all' },
      admin: { submit: 'all', read: 'all', cancel: 'all', admin: 'all', metrics: 'all' },
      worker: { submit: false, read: false, cancel: false, admin: false, metrics: false },
      open: { submit: 'all', read: 'all', cancel: 'all', admin: false, metrics: 'all' },
    };
    for (const who of [...ROLES, 'open'] as const) {
      for (const action of ['submit', 'read', 'cancel', 'admin', 'metrics'] as const) {
        expect(grant(who === 'open' ? OPEN : token(who), action), `${who} ${action}`).to.equal(table[who][action]);
      }
    }
  });

  it('makes 192-bit tokens of one shape and hashes them under the key', () => {
    const a = newToken();
    expect(a).to.match(TOKEN_PATTERN);
    expect(newToken()).to.not.equal(a);
    expect(hashToken('k'.repeat(32), a)).to.match(/^[0-9a-f]{64}$/);
    expect(hashToken('k'.repeat(32), a)).to.not.equal(hashToken('j'.repeat(32), a));
    expect(sameHash(hashToken('k'.repeat(32), a), hashToken('k'.repeat(32), a))).to.equal(true);
    expect(sameHash('', '')).to.equal(false);
  });

  it('rate: a burst, then one per refill interval, per key, with the seconds to wait', () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 6, burst: 2 }, () => now);
    limiter.take('a');
    limiter.take('a');
    const refused = (() => {
      try {
        limiter.take('a');
        return undefined;
      } catch (err) {
        return err as { code: string; retryAfter: number };
      }
    })();
    expect(refused).to.include({ code: 'RATE_LIMITED', retryAfter: 10 });
    limiter.take('b');
    now += 10_000;
    limiter.take('a');
    expect(() => limiter.take('a')).to.throw(/try again in/);
  });
});

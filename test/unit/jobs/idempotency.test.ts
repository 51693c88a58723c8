import { expect } from 'chai';
import { IDEMPOTENCY_TTL_MS, judgeKey, keyScope, parseIdempotencyKey, PENDING_TTL_MS, type KeyRecord } from '../../../src/jobs/idempotency.js';

describe('jobs/idempotency: key rules', () => {
  const sha = 'a'.repeat(64);
  const now = Date.UTC(2026, 10, 27, 12);
  const record = (fields: Partial<KeyRecord> = {}): KeyRecord => ({
    engines: 'md5,yara', sha256: sha, jobs: [{ engine: 'md5', jobid: '1', cached: false }], createdAt: new Date(now - 1000), ...fields,
  });

  it('judges a key on record against a request (table)', () => {
    const table: [string, KeyRecord, { engines: string; sha256: string }, string][] = [
      ['same request: the same jobs', record(), { engines: 'md5,yara', sha256: sha }, 'replay'],
      ['other engines', record(), { engines: 'md5', sha256: sha }, 'reused'],
      ['engines in another order', record(), { engines: 'yara,md5', sha256: sha }, 'reused'],
      ['another file', record(), { engines: 'md5,yara', sha256: 'b'.repeat(64) }, 'reused'],
      ['first request still creating its jobs', record({ jobs: null }), { engines: 'md5,yara', sha256: sha }, 'pending'],
      ['first request died long ago', record({ jobs: null, createdAt: new Date(now - PENDING_TTL_MS) }), { engines: 'md5,yara', sha256: sha }, 'expired'],
      ['older than 24 hours', record({ createdAt: new Date(now - IDEMPOTENCY_TTL_MS) }), { engines: 'md5', sha256: sha }, 'expired'],
      ['just under 24 hours', record({ createdAt: new Date(now - IDEMPOTENCY_TTL_MS + 1) }), { engines: 'md5,yara', sha256: sha }, 'replay'],
    ];
    for (const [name, rec, req, want] of table) expect(judgeKey(rec, req, now), name).to.equal(want);
  });

  it('a key is 1 to 255 visible ASCII characters; none is undefined', () => {
    expect(parseIdempotencyKey(undefined)).to.equal(undefined);
    expect(parseIdempotencyKey('')).to.equal(undefined);
    expect(parseIdempotencyKey('4f1c-9a7e_b2:x')).to.equal('4f1c-9a7e_b2:x');
    expect(parseIdempotencyKey('k'.repeat(255))).to.have.length(255);
    for (const bad of ['k'.repeat(256), 'with space', 'tab\tkey', 'ünïcode']) {
      expect(() => parseIdempotencyKey(bad), bad).to.throw().with.property('code', 'INVALID_IDEMPOTENCY_KEY');
    }
  });

  it('keys belong to the token, or in the open mode to the client address', () => {
    expect(keyScope({ kind: 'token', tokenId: '7' }, '10.0.0.1')).to.equal('token:7');
    expect(keyScope({ kind: 'open' }, '10.0.0.1')).to.equal('addr:10.0.0.1');
  });
});

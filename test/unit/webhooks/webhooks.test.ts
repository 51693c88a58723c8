import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { FIRST_RETRY_MS, MAX_RETRY_MS, nextAttemptDelay } from '../../../src/webhooks/backoff.js';
import { checkCallback } from '../../../src/webhooks/callback.js';
import { sign, verify } from '../../../src/webhooks/signature.js';

const SECRET = 's'.repeat(40);

describe('webhooks: signatures', () => {
  it('signs `<timestamp>.<body>` with HMAC-SHA256, as a receiver computes it independently', () => {
    const body = '{"jobid":"1"}';
    const expected = createHmac('sha256', SECRET).update(`1700000000.${body}`).digest('hex');
    expect(sign(SECRET, 1700000000, body)).to.equal(`sha256=${expected}`);
  });

  it('verify accepts the signature and refuses an altered body, timestamp, secret or a stale timestamp', () => {
    const body = '{"jobid":"1","status":"Success"}';
    const now = 1700000000;
    const sig = sign(SECRET, now, body);
    const cases: [string, boolean][] = [
      ['good', verify(SECRET, sig, String(now), body, now)],
      ['altered body', verify(SECRET, sig, String(now), body.replace('Success', 'Fail'), now)],
      ['other timestamp', verify(SECRET, sig, String(now + 1), body, now)],
      ['other secret', verify('t'.repeat(40), sig, String(now), body, now)],
      ['replayed after 10 minutes', verify(SECRET, sig, String(now), body, now + 600)],
      ['no header', verify(SECRET, undefined, String(now), body, now)],
      ['malformed timestamp', verify(SECRET, sig, '17e8', body, now)],
      ['truncated signature', verify(SECRET, sig.slice(0, -1), String(now), body, now)],
    ];
    expect(cases.filter(([, ok]) => ok).map(([name]) => name)).to.deep.equal(['good']);
  });
});

describe('webhooks: backoff', () => {
  it('doubles from the first delay, capped, and gives up after the last attempt', () => {
    const none = (): number => 0;
    expect([1, 2, 3, 4].map((a) => nextAttemptDelay(a, 10, none))).to.deep.equal([FIRST_RETRY_MS, 2 * FIRST_RETRY_MS, 4 * FIRST_RETRY_MS, 8 * FIRST_RETRY_MS]);
    expect(nextAttemptDelay(40, 100, none)).to.equal(MAX_RETRY_MS);
    expect(nextAttemptDelay(10, 10, none)).to.equal(null);
    expect(nextAttemptDelay(3, 3, none)).to.equal(null);
  });

  it('adds at most 20 % jitter', () => {
    expect(nextAttemptDelay(1, 5, () => 0.999, 1000)).to.be.within(1000, 1200);
    expect(nextAttemptDelay(2, 5, () => 0.5, 1000)).to.equal(2200);
  });
});

describe('webhooks: callback URLs', () => {
  const prefixes = ['https://hooks.example.com/menagerie/', 'http://127.0.0.1:9000/'];
  const verdict = (url: string, allowed = prefixes): string => {
    try {
      return checkCallback(url, allowed) === url ? 'ok' : 'changed';
    } catch (err) {
      return (err as { code: string }).code;
    }
  };

  it('allows URLs under an allowed prefix; absent is null', () => {
    expect(verdict('https://hooks.example.com/menagerie/job-done')).to.equal('ok');
    expect(verdict('http://127.0.0.1:9000/x?y=1')).to.equal('ok');
    expect(checkCallback(undefined, prefixes)).to.equal(null);
    expect(checkCallback('', prefixes)).to.equal(null);
  });

  it('refuses other hosts, look-alikes, spelling tricks, credentials, other schemes, and everything when none is allowed', () => {
    const refused = [
      'https://hooks.example.com.evil.org/menagerie/',
      'https://hooks.example.com/other/',
      'https://hooks.example.com/menagerie/../admin',
      'HTTPS://hooks.example.com/menagerie/x',
      'https://user:pw@hooks.example.com/menagerie/',
      'ftp://hooks.example.com/menagerie/',
      'not a url',
      `https://hooks.example.com/menagerie/${'a'.repeat(2100)}`,
    ];
    expect(refused.map((u) => verdict(u))).to.deep.equal(refused.map(() => 'INVALID_CALLBACK'));
    expect(verdict('https://hooks.example.com/menagerie/x', [])).to.equal('INVALID_CALLBACK');
  });
});

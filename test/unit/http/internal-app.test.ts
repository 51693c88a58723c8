import { expect } from 'chai';
import { createInternalApp } from '../../../src/http/app.js';
import { checkResponse, HEADERS, REPORT_LIMIT } from '../../../src/contract/index.js';
import { internalSpellings, rawRequest, serve } from '../../support/raw-http.js';
import { fakeService, LEASE, type Seen } from './fakes.js';
import { silentLogger } from '../../../src/log/logger.js';

describe('http: the internal app (createInternalApp)', () => {
  const token = 'internal-token-0123456789';
  const auth = { authorization: `Bearer ${token}` };
  const seen: Seen[] = [];
  let server: Awaited<ReturnType<typeof serve>>;
  const call = (method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) => rawRequest(server.url, method, path, headers, body);
  const json = (method: string, path: string, value: unknown) => call(method, path, { ...auth, 'content-type': 'application/json' }, JSON.stringify(value));

  before(async () => {
    server = await serve(createInternalApp({ service: fakeService(seen), internalToken: token, health: async () => undefined, log: silentLogger() }).callback());
  });
  after(() => server.close());

  it('answers every spelling, known route or not, with 401 and no data when the token is missing or wrong', async () => {
    const wrong: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: token }, { authorization: `bearer ${token}` },
      { authorization: `Bearer ${token}x` }, { authorization: `Bearer ${token.slice(0, -1)}` }, { authorization: `Bearer  ${token}` }];
    for (const path of [...internalSpellings('1'), '/result/1', '/healthz', '//internal/jobs/1']) {
      for (const headers of wrong) {
        const res = await call('GET', path, headers);
        expect([path, headers, res.status, res.json?.error?.code]).to.deep.equal([path, headers, 401, 'UNAUTHORIZED']);
        expect(res.text).to.not.include(LEASE);
      }
    }
    const post = await call('POST', '/internal/jobs/1/start', { 'content-type': 'application/json' }, '{"worker":"w"}');
    expect(post.status).to.equal(401);
    expect(seen.filter((s) => s.call === 'start')).to.have.length(0);
  });

  it('with the token, routing is case-sensitive and strict: only the exact spelling reaches a job', async () => {
    const exact = await call('GET', '/internal/jobs/1', auth);
    expect(checkResponse('status', exact.json).ok).to.equal(true);
    expect(exact.json).to.include({ jobid: '1', lease: LEASE });
    // A percent-encoded id is the same id (the router decodes parameters), the absolute form the same
    // path (HTTP/1.1 servers accept it); behind the token that is fine.
    const same = ['/internal/jobs/1', '/internal/jobs/%31', 'http://127.0.0.1/internal/jobs/1', '/internal/jobs/1/input', '/internal/jobs/1?x=1', '/internal/healthz'];
    for (const path of internalSpellings('1').filter((p) => !same.includes(p))) {
      const res = await call('GET', path, auth);
      expect([path, res.status < 500 && res.status >= 400]).to.deep.equal([path, true]);
      expect(res.text, path).to.not.include(LEASE);
    }
  });

  it('405 with Allow and 501 here too', async () => {
    const res = await call('DELETE', '/internal/jobs/1/start', auth);
    expect([res.status, res.json.error.code, res.headers.allow]).to.deep.equal([405, 'METHOD_NOT_ALLOWED', 'POST']);
    expect((await call('PROPFIND', '/internal/jobs/1', auth)).status).to.equal(501);
  });

  it('validates request bodies against the contract', async () => {
    const cases: [string, unknown, string][] = [
      ['/internal/jobs/1/start', {}, 'INVALID_REQUEST'], ['/internal/jobs/1/start', { worker: 'w', extra: 1 }, 'INVALID_REQUEST'],
      ['/internal/jobs/1/fail', { lease: 'zz', reason: 'x' }, 'INVALID_LEASE'], ['/internal/jobs/1/fail', { reason: '' }, 'INVALID_REQUEST'],
      ['/internal/jobs/1/release', { lease: LEASE, error: 'x', infrastructure: 'yes' }, 'INVALID_REQUEST'],
      ['/internal/jobs/1/heartbeat', [], 'INVALID_REQUEST'], ['/internal/jobs/x/heartbeat', { lease: LEASE }, 'INVALID_JOB_ID'],
    ];
    for (const [path, body, code] of cases) {
      const res = await json('POST', path, body);
      expect([path, body, res.status, res.json.error.code]).to.deep.equal([path, body, 400, code]);
    }
    const bad = await call('POST', '/internal/jobs/1/start', { ...auth, 'content-type': 'application/json' }, '{not json');
    expect(bad.json.error.code).to.equal('INVALID_JSON');
    const released = await json('POST', '/internal/jobs/1/release', { lease: LEASE, error: 'docker down', infrastructure: true });
    expect(released.status).to.equal(200);
  });

  it('a result call carries the containment report at the head of its body, whole, and the result after it', async () => {
    const report = { network: 'none', big: 'x'.repeat(64 * 1024) };
    const head = Buffer.from(JSON.stringify(report));
    const res = await call('PUT', '/internal/jobs/1/result', { ...auth, [HEADERS.lease]: LEASE, [HEADERS.reportLength]: String(head.length) },
      Buffer.concat([head, Buffer.from('the result')]));
    expect(res.status).to.equal(200);
    const got = seen.filter((s) => s.call === 'succeed').at(-1);
    expect(got?.args[2]).to.deep.equal(report);
    expect(got?.body).to.equal('the result');
  });

  it('refuses a result call whose report is missing, short, not JSON or too large, before the service sees it', async () => {
    const before = seen.filter((s) => s.call === 'succeed').length;
    const put = (headers: Record<string, string>, body: string) => call('PUT', '/internal/jobs/1/result', { ...auth, [HEADERS.lease]: LEASE, ...headers }, body);
    const cases: [Record<string, string>, string, number, string][] = [
      [{}, 'r', 400, 'INVALID_REQUEST'], [{ [HEADERS.reportLength]: '-1' }, 'r', 400, 'INVALID_REQUEST'],
      [{ [HEADERS.reportLength]: '100' }, '{"a":1}', 400, 'INVALID_REQUEST'], [{ [HEADERS.reportLength]: '3' }, '{x}r', 400, 'INVALID_JSON'],
      [{ [HEADERS.reportLength]: '2' }, '[]r', 400, 'INVALID_REQUEST'], [{ [HEADERS.reportLength]: String(REPORT_LIMIT + 1) }, 'r', 413, 'REPORT_TOO_LARGE'],
      [{ [HEADERS.lease]: 'nope', [HEADERS.reportLength]: '0' }, 'r', 400, 'INVALID_LEASE'],
    ];
    for (const [headers, body, status, code] of cases) {
      const res = await put(headers, body);
      expect([headers, res.status, res.json?.error?.code]).to.deep.equal([headers, status, code]);
    }
    expect(seen.filter((s) => s.call === 'succeed').length).to.equal(before);
  });

  it('the operator view of a job shows the last error; the health route answers with the token', async () => {
    expect((await call('GET', '/internal/jobs/1', auth)).json.lastError).to.include('ECONNREFUSED');
    expect((await call('GET', '/internal/healthz', auth)).json).to.deep.equal({ status: 'ok' });
  });
});

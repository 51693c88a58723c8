import { expect } from 'chai';
import { createApiApp, type ApiDeps } from '../../../src/enforcer/api.js';
import { rawRequest, serve } from '../../support/raw-http.js';

describe("enforcer: the API app shares the frontend's error middleware and token guard", () => {
  const logs: string[] = [];
  let server: Awaited<ReturnType<typeof serve>>;
  const token = 'enforcer-token-0123456789';

  before(async () => {
    const deps = {
      detections: { history: () => { throw new Error('boom at /var/lib/secret'); }, recent: () => [] },
      token,
      log: (_level: string, message: string, fields?: Record<string, unknown>) => logs.push(`${message} ${JSON.stringify(fields)}`),
    } as unknown as ApiDeps;
    server = await serve(createApiApp(deps).callback());
  });
  after(() => server.close());

  it('refuses a missing, wrong, or same-length wrong token with 401 JSON', async () => {
    for (const authorization of [undefined, 'Bearer x', `Bearer ${'x'.repeat(token.length)}`, token]) {
      const res = await rawRequest(server.url, 'GET', '/recent', authorization ? { authorization } : {});
      expect([authorization, res.status, res.json.error.code]).to.deep.equal([authorization, 401, 'UNAUTHORIZED']);
    }
    expect((await rawRequest(server.url, 'GET', '/recent', { authorization: `Bearer ${token}` })).json).to.deep.equal({ detections: [] });
  });

  it('a failing handler is a logged 500 whose answer carries no internal text', async () => {
    const res = await rawRequest(server.url, 'GET', '/', { authorization: `Bearer ${token}` });
    expect([res.status, res.json.error.code]).to.deep.equal([500, 'INTERNAL_ERROR']);
    expect(res.text).to.not.include('/var/lib/secret');
    expect(logs.some((l) => l.includes('boom at /var/lib/secret'))).to.equal(true);
  });

  it('405 and 501 as JSON', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await rawRequest(server.url, 'DELETE', '/recent', auth)).json.error.code).to.equal('METHOD_NOT_ALLOWED');
    expect((await rawRequest(server.url, 'PROPFIND', '/recent', auth)).json.error.code).to.equal('NOT_IMPLEMENTED');
  });
});

import { expect } from 'chai';
import { CALLS, checkRequest, checkResponse, encodeReport, pathOf, REPORT_LIMIT } from '../../../src/contract/index.js';
import { cleanPath } from '../../../src/http/path-cleaning.js';
import { STATUSES } from '../../../src/jobs/job.js';

describe('contract: the internal API', () => {
  it('builds paths from the routes, encoding the id so it cannot change the route', () => {
    expect(pathOf('start', '12')).to.equal('/internal/jobs/12/start');
    expect(pathOf('status', '../x')).to.equal('/internal/jobs/..%2Fx');
    expect(pathOf('health')).to.equal('/internal/healthz');
    for (const call of Object.values(CALLS)) expect(call.route).to.match(/^\/internal\//);
  });

  it('the report is framed whole, and refused rather than cut above the limit', () => {
    const { head, length } = encodeReport({ a: 'é' });
    expect([head.toString(), length]).to.deep.equal(['{"a":"é"}', String(head.length)]);
    expect(encodeReport(undefined).head.toString()).to.equal('null');
    expect(() => encodeReport({ big: 'x'.repeat(REPORT_LIMIT) })).to.throw(RangeError);
  });

  it('request schemas: the release carries the infrastructure flag; unknown fields are refused', () => {
    const lease = 'f'.repeat(32);
    expect(checkRequest('release', { lease, error: 'e', infrastructure: true }).ok).to.equal(true);
    expect(checkRequest('release', { lease, error: 'e', other: 1 }).ok).to.equal(false);
    expect(checkRequest('fail', { reason: 'killed by policy: x' }).ok).to.equal(true);
    expect(checkRequest('heartbeat', { lease: 'F'.repeat(32) }).ok).to.equal(false);
  });

  it('response schemas: the status view must carry attempts (the orphan sweeper reads it)', () => {
    const view = { jobid: '1', engine: 'e', status: 'Running', lease: null, attempts: 2, lastError: null };
    expect(checkResponse('status', view).ok).to.equal(true);
    const { attempts: _dropped, ...without } = view;
    expect(checkResponse('status', without).ok).to.equal(false);
    expect(checkResponse('status', { ...view, status: 'Done' }).ok).to.equal(false);
  });

  it("the job statuses are the contract's", () => {
    expect([...STATUSES]).to.deep.equal(['Received', 'Running', 'Success', 'Fail']);
  });
});

describe('http: path cleaning (as Go path.Clean, trailing slash kept)', () => {
  const cases: [string, string][] = [
    ['/', '/'], ['//', '/'], ['//link/5', '/link/5'], ['/result/./5', '/result/5'], ['/a/b/../c', '/a/c'], ['/../..', '/'],
    ['/link/5/', '/link/5/'], ['/a//b//', '/a/b/'], ['/x/../internal/jobs/1', '/internal/jobs/1'], ['/a/.', '/a'], ['/%2e%2e/a', '/%2e%2e/a'],
  ];
  for (const [path, clean] of cases) it(`${path} → ${clean}`, () => expect(cleanPath(path)).to.equal(clean));
});

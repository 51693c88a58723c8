import { expect } from 'chai';
import { enforcerPolicy } from '../../../src/console/policy.js';
import { detection, serveEnforcerApi } from '../../support/enforcer-api.js';

describe("console: the policy page's view of the enforcer's API", () => {
  const token = 'enforcer-api-token-0123456789';
  let api: Awaited<ReturnType<typeof serveEnforcerApi>>;

  before(async () => {
    api = await serveEnforcerApi([
      detection('menagerie-job-1', 'no-privileged', 'privileged containers are not allowed'),
      detection('menagerie-job-2', 'memory-limit', 'memory above 64m'),
      detection('menagerie-job-3', 'memory-limit', 'memory above 64m'),
    ], token);
  });
  after(() => api?.close());

  it('reads recent detections and counts violations by rule', async () => {
    const view = await enforcerPolicy(api.url, token).read();
    if (!view.available) throw new Error(view.reason);
    expect(view.mode).to.equal('kill');
    expect(view.rules).to.equal(2);
    expect(view.violationsByRule).to.deep.equal({ 'no-privileged': 1, 'memory-limit': 2 });
    expect(view.detections.map((d) => [d.name, d.rules[0]?.rule, d.outcome])).to.have.deep.members([
      ['menagerie-job-1', 'no-privileged', 'killed'], ['menagerie-job-2', 'memory-limit', 'killed'], ['menagerie-job-3', 'memory-limit', 'killed']]);
  });

  it('says why when it cannot: not configured, a refused token, nothing listening', async () => {
    const none = await enforcerPolicy(undefined, undefined).read();
    expect(none).to.deep.include({ available: false });
    const refused = await enforcerPolicy(api.url, 'wrong-token-0123456789').read();
    expect(refused).to.deep.equal({ available: false, reason: `The enforcer's API at ${new URL(api.url).host} did not answer (HTTP 401).` });
    const closed = await enforcerPolicy('http://127.0.0.1:9', undefined).read();
    expect(closed.available).to.equal(false);
    expect((closed as { reason: string }).reason).to.match(/^The enforcer's API at 127\.0\.0\.1:9 did not answer/);
  });
});

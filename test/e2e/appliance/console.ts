import { expect } from 'chai';
import { applianceAuth } from '../../support/appliance.js';

// The console and its API on the provisioned appliance (as test/e2e/appliance.test.ts leaves
// it): served from the runtime image under its CSP, the original's /monitor API behind the
// installer's token, and the policy page reading the enforcer over the compose network.

const api = 'http://127.0.0.1:8100';

/** The console on the provisioned appliance (registered by appliance.test.ts after provisioning). */
export function consoleChecks(): void {
  describe('e2e: the console on the provisioned appliance', function () {
    this.timeout(60_000);

    it('serves /console/ from the image with a strict CSP, no token needed for the page itself', async () => {
      const res = await fetch(`${api}/console/`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
      expect(res.headers.get('content-security-policy')).to.include("default-src 'self'").and.include("frame-ancestors 'none'");
      expect(await res.text()).to.match(/<script[^>]+src="[^"]+\.js"/).and.not.match(/<script>(?!\s*<\/script>)/);
    });

    it('answers the original console API behind the token, every engine listed', async () => {
      expect((await fetch(`${api}/monitor/queues`)).status).to.equal(401);
      const res = await fetch(`${api}/monitor/queues`, { headers: applianceAuth() });
      expect(res.status).to.equal(200);
      const queues = ((await res.json()) as { Queues: Record<string, Record<string, number>> }).Queues;
      expect(queues.md5).to.have.all.keys('RECEIVED', 'RUNNING', 'SUCCESS', 'FAIL');
      const page = await fetch(`${api}/monitor/jobs/paginate?eng=md5`, { headers: applianceAuth() });
      expect(((await page.json()) as { count: number }).count).to.be.a('number');
      expect((await fetch(`${api}/monitor/jobs/paginate?min-id=x`, { headers: applianceAuth() })).status).to.equal(400);
    });

    it('the policy page reads the enforcer: its API answers through the frontend', async () => {
      const res = await fetch(`${api}/monitor/policy`, { headers: applianceAuth() });
      expect(res.status).to.equal(200);
      const policy = (await res.json()) as { available: boolean; reason?: string; rules?: number };
      expect(policy, policy.reason).to.include({ available: true });
      expect(policy.rules).to.be.above(0);
    });
  });
}

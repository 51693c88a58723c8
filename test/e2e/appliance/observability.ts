import { expect } from 'chai';
import { parsePrometheus } from '../../integration/enforcer/prometheus-parse.js';
import { applianceAuth, ok } from '../../support/appliance.js';

// Metrics and health on the provisioned appliance (docs/observability.md), as
// test/e2e/appliance.test.ts leaves it: the frontend's /metrics behind the installer's token on
// the published port, and /readyz of every service, asked from inside its own container (menage
// and the enforcer publish nothing; the runtime image has node but no shell or curl).

const api = 'http://127.0.0.1:8100';

/** The compose project's container id of a service. */
async function containerOf(service: string): Promise<string> {
  return (await ok('docker-compose', ['-p', 'menagerie', 'ps', '-q', service], { cwd: '/opt/menagerie/compose' })).stdout.trim();
}

/** GETs a URL from inside a service's container: status and body. */
async function getInside(service: string, url: string): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(8000) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.log(JSON.stringify({ status: 0, body: String(e) })); })`;
  const out = await ok('docker', ['exec', await containerOf(service), '/usr/bin/node', '-e', script]);
  return JSON.parse(out.stdout.trim()) as { status: number; body: string };
}

/** The metrics and health checks (registered by appliance.test.ts after provisioning). */
export function observabilityChecks(): void {
  describe('e2e: metrics and health on the provisioned appliance', function () {
    this.timeout(120_000);

    it('the frontend /metrics answers with the installer\'s token, in a strict exposition; not without one', async () => {
      expect((await fetch(`${api}/metrics`)).status).to.equal(401);
      const res = await fetch(`${api}/metrics`, { headers: applianceAuth() });
      expect(res.status).to.equal(200);
      const samples = parsePrometheus(await res.text());
      const names = new Set(samples.map((s) => s.name));
      for (const name of ['menagerie_engine_slots_total', 'menagerie_queue_depth', 'process_resident_memory_bytes']) expect([...names]).to.include(name);
      expect(samples.find((s) => s.name === 'menagerie_engine_slots_total' && s.labels.engine === 'md5')?.value, 'menage reports md5 slots').to.be.above(0);
      // Node's permission model lets it read /proc/self (--allow-fs-read in compose): else this is 0.
      expect(samples.find((s) => s.name === 'process_resident_memory_bytes')?.value, 'process metrics read /proc/self').to.be.above(0);
    });

    it('/healthz and /readyz answer without a token on the published port', async () => {
      expect((await fetch(`${api}/healthz`)).status).to.equal(200);
      const ready = await fetch(`${api}/readyz`);
      expect([ready.status, await ready.json()]).to.deep.equal([200, { status: 'ready', checks: { database: 'ok', broker: 'ok', store: 'ok' } }]);
    });

    it('menage answers /readyz and /metrics on its operations listener inside the compose network', async () => {
      const ready = await getInside('menage', 'http://127.0.0.1:8102/readyz');
      expect([ready.status, JSON.parse(ready.body)]).to.deep.equal([200, { status: 'ready', checks: { broker: 'ok', docker: 'ok', frontend: 'ok' } }]);
      const metrics = await getInside('menage', 'http://127.0.0.1:8102/metrics');
      expect(metrics.status).to.equal(200);
      expect(parsePrometheus(metrics.body).some((s) => s.name === 'menagerie_menage_slots_total' && s.labels.engine === 'md5')).to.equal(true);
      // Reachable from the frontend's container too (Prometheus on the backend network would scrape it so).
      expect((await getInside('frontend', 'http://menage:8102/healthz')).status).to.equal(200);
    });

    it('the enforcer answers /readyz (Docker) without its API token', async () => {
      const ready = await getInside('enforcer', 'http://127.0.0.1:8888/readyz');
      expect([ready.status, JSON.parse(ready.body)]).to.deep.equal([200, { status: 'ready', checks: { docker: 'ok' } }]);
    });

    it('compose reports every service healthy with the new checks', async () => {
      for (const service of ['frontend', 'menage', 'docker-proxy', 'enforcer']) {
        const state = (await ok('docker', ['inspect', '-f', '{{.State.Health.Status}}', await containerOf(service)])).stdout.trim();
        expect([service, state]).to.deep.equal([service, 'healthy']);
      }
    });
  });
}

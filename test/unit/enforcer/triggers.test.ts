import { expect } from 'chai';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Detection } from '../../../src/enforcer/detections.js';
import { failJob } from '../../../src/enforcer/job-failer.js';
import { EnforcerMetrics } from '../../../src/enforcer/prometheus.js';
import { Triggers } from '../../../src/enforcer/triggers.js';
import { model } from './helpers.js';

const detection: Detection = {
  time: new Date().toISOString(), source: 'periodic', containerId: 'abc', name: 'x', image: 'i', labels: {},
  violations: [{ rule: 'r', action: { type: 'warn' }, message: 'm', samples: 1 }], mode: 'warn', outcome: 'reported',
};

async function hangingServer(): Promise<{ url: string; close: () => void }> {
  const server = createServer(() => undefined); // never answers
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, close: () => { server.closeAllConnections(); server.close(); } };
}

describe('enforcer triggers and job failure notices (failures isolated)', () => {
  it('records a timed-out and an unreachable webhook without throwing, and still logs', async () => {
    const hang = await hangingServer();
    const logs: string[] = [];
    const metrics = new EnforcerMetrics();
    const t = new Triggers({ log: true, webhooks: [{ url: `${hang.url}/hook?secret=1`, timeoutMs: 200 }, { url: 'http://127.0.0.1:1/x', timeoutMs: 1000 }] }, (_l, m) => logs.push(m), metrics);
    const started = Date.now();
    await t.fire(detection);
    hang.close();
    expect(Date.now() - started).to.be.lessThan(2000);
    const d = t.describe();
    expect(d.webhooks[0]).to.equal(`${hang.url}/hook`);
    expect(d.recent.map((r) => `${r.trigger.split(':')[0]} ${r.ok} ${r.detail}`).sort()).to.deep.equal(['log true undefined', 'webhook false timeout', 'webhook false unreachable']);
    expect(logs).to.include('policy violation');
    expect(await metrics.render()).to.match(/^menagerie_enforcer_trigger_results_total\{trigger="webhook",result="failed"\} 2$/m);
  });

  it('failJob returns false (and logs) when the frontend does not answer in time', async () => {
    const hang = await hangingServer();
    const logs: string[] = [];
    const ok = await failJob({ url: hang.url, timeoutMs: 200 }, '1', 'rule', 'detail', (_l, m) => logs.push(m));
    hang.close();
    expect(ok).to.equal(false);
    expect(logs).to.deep.equal(['could not tell the frontend about a policy kill']);
  });

  it('renders label values with quotes, backslashes and newlines escaped', async () => {
    const m = new EnforcerMetrics();
    m.violations.inc({ rule: 'a"b\\c\nd', action: 'warn' });
    expect(await m.render()).to.include('menagerie_enforcer_violations_total{rule="a\\"b\\\\c\\nd",action="warn"} 1');
    expect(model().name).to.equal('');
  });
});

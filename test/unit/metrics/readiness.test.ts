import { expect } from 'chai';
import { Registry } from 'prom-client';
import { listenOps } from '../../../src/http/ops-server.js';
import { checkReadiness } from '../../../src/metrics/readiness.js';
import { BoundedLabel, reasonLabel } from '../../../src/metrics/reasons.js';
import { FrontendMetrics } from '../../../src/metrics/frontend-metrics.js';

const hang = (): Promise<never> => new Promise(() => undefined);

describe('metrics: readiness, reason labels and the operations listener', () => {
  it('is ready only when every check answers; a failed or hung check is named, within the bound', async () => {
    const started = Date.now();
    const r = await checkReadiness({ a: async () => 1, b: async () => { throw new Error('ECONNREFUSED secret'); }, c: hang }, 200);
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(r).to.deep.equal({ status: 'not ready', checks: { a: 'ok', b: 'failed', c: 'timeout' } });
    expect(await checkReadiness({ a: async () => undefined })).to.deep.equal({ status: 'ready', checks: { a: 'ok' } });
    expect(await checkReadiness({})).to.deep.equal({ status: 'ready', checks: {} });
  });

  it('labels a failure by the stable phrase its reason starts with (table)', () => {
    const table: [string | null, string][] = [
      [null, ''], ['', ''], ['exit code 3', 'exit code'], ['timeout: stopped after 5 s', 'timeout'], ['out of memory: the engine was OOM-killed', 'out of memory'],
      ['killed by policy: rule x', 'killed by policy'], ['cancelled', 'cancelled'], ['dead-lettered', 'dead-lettered'],
      ['infrastructure unavailable', 'infrastructure unavailable'], ['engine "x" is no longer configured', 'engine'], ['"quoted"', 'other'],
      ['result too large: 9 bytes', 'result too large'], ['a'.repeat(100), 'a'.repeat(40)],
    ];
    for (const [reason, label] of table) expect([reason, reasonLabel(reason)]).to.deep.equal([reason, label]);
  });

  it('caps the distinct values of a label', () => {
    const b = new BoundedLabel(2);
    expect(['x', 'y', 'z', 'x', 'w'].map((v) => b.of(v))).to.deep.equal(['x', 'y', 'other', 'x', 'other']);
  });

  it('collects the frontend gauges at scrape time, leaving out a depth the broker cannot tell', async () => {
    const m = new FrontendMetrics(new Registry(), {
      engines: () => ['a', 'b'], depth: async (e) => (e === 'a' ? 7 : null), slots: (e) => (e === 'a' ? { busy: 1, total: 2 } : null),
    });
    m.finished({ engine: 'a', status: 'Fail', reason: 'exit code 2' });
    m.finished({ engine: 'a', status: 'Success', reason: null });
    const text = await m.registry.metrics();
    expect(text).to.match(/^menagerie_queue_depth\{engine="a"\} 7$/m).and.not.match(/menagerie_queue_depth\{engine="b"\}/);
    expect(text).to.match(/^menagerie_engine_slots_busy\{engine="a"\} 1$/m).and.match(/^menagerie_engine_slots_total\{engine="b"\} 0$/m);
    expect(text).to.match(/^menagerie_jobs_finished_total\{engine="a",status="Fail",reason="exit code"\} 1$/m);
    expect(text).to.match(/^menagerie_jobs_finished_total\{engine="a",status="Success",reason=""\} 1$/m);
    expect(text).to.match(/^process_cpu_user_seconds_total /m);
  });

  it('serves /metrics (with its token when set), /healthz and /readyz; nothing else, exact paths only', async () => {
    const registry = new Registry();
    let up = true;
    const ops = await listenOps({ registry, token: 't'.repeat(20), checks: { docker: async () => { if (!up) throw new Error('down'); } } }, '127.0.0.1', 0);
    try {
      const get = async (path: string, init: RequestInit = {}) => {
        const res = await fetch(`${ops.url}${path}`, init);
        return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
      };
      expect((await get('/healthz')).text).to.equal('{"status":"ok"}');
      expect((await get('/readyz')).status).to.equal(200);
      up = false;
      expect(await get('/readyz')).to.deep.include({ status: 503, text: '{"status":"not ready","checks":{"docker":"failed"}}' });
      expect((await get('/metrics')).status).to.equal(401);
      expect((await get('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).to.equal(401);
      const ok = await get('/metrics', { headers: { authorization: `Bearer ${'t'.repeat(20)}` } });
      expect([ok.status, ok.type]).to.deep.equal([200, registry.contentType]);
      for (const path of ['/METRICS', '/healthz/', '/metrics?x=1', '//healthz', '/']) expect([path, (await get(path)).status]).to.deep.equal([path, 404]);
      expect((await get('/healthz', { method: 'POST' })).status).to.equal(405);
    } finally {
      await ops.close();
      await ops.close();
    }
  });
});

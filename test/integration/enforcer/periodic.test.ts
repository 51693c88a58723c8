import { expect } from 'chai';
import Docker from 'dockerode';
import { startEnforcer, type RunningEnforcer } from '../../../src/enforcer.js';
import { LABELS } from '../../../src/contract/labels.js';
import { parsePrometheus } from './prometheus-parse.js';
import { mine, newRun, Recorder, requireDocker, TestContainers, testConfig, waitFor, type Recorded } from './helpers.js';

describe('enforcer periodic scan against the real Docker engine', function () {
  this.timeout(60_000);
  const docker = new Docker();
  let run: string;
  let containers: TestContainers;
  let enforcer: RunningEnforcer | undefined;
  let frontend: Recorder;
  let webhook: Recorder;
  const logs: string[] = [];

  before(() => requireDocker(docker));
  beforeEach(async () => {
    run = newRun();
    containers = new TestContainers(docker, run);
    // The frontend stand-in notes whether the container was still running when told.
    frontend = await new Recorder(async (r: Recorded) => {
      const [c] = await docker.listContainers({ filters: { label: [`org.menagerie.job=${r.url.split('/')[3]}`] } });
      return { runningWhenTold: c?.State === 'running' };
    }).start();
    webhook = await new Recorder().start();
  });
  afterEach(async () => {
    await enforcer?.close();
    enforcer = undefined;
    await containers.removeAll();
    await frontend.close();
    await webhook.close();
  });

  const rules = (r: string) => ({
    whitelist: ['^enf-test-keep-'],
    rules: [
      { name: 'test-memory-limit', description: 'memory limit required', violation: mine(r, { field: 'container.memory', op: 'eq', value: 0 }), action: { type: 'kill', signal: 'SIGKILL' } },
      { name: 'test-pids-limit', description: 'pids limit required', violation: mine(r, { field: 'container.pidsLimit', op: 'eq', value: 0 }), action: { type: 'warn' } },
    ],
  });

  async function start(): Promise<RunningEnforcer> {
    const config = testConfig(run, rules(run), {
      periodic: { intervalSeconds: 1, immediate: true },
      frontend: { url: frontend.url, internalToken: 'internal-secret', timeoutMs: 2000 },
      triggers: { log: true, webhooks: [{ url: `${webhook.url}/hook`, timeoutMs: 2000 }] },
    });
    enforcer = await startEnforcer(config, { docker, log: (level, message) => logs.push(`${level} ${message}`) });
    return enforcer;
  }

  it('kills a rogue container in KILL mode after failing its job, reports it in WARN mode, leaves whitelisted and compliant ones alone', async () => {
    const jobId = String(900_000_000 + Math.floor(Math.random() * 1e8));
    const rogue = await containers.start('rogue', { kill: true, labels: { [LABELS.job]: jobId } });
    const warned = await containers.start('warned');
    const kept = await containers.start('keep', { kill: true, name: `enf-test-keep-${run}` });
    const good = await containers.start('good', { kill: true, host: { NetworkMode: 'none', Memory: 32 * 2 ** 20, PidsLimit: 10 } });
    const e = await start();

    await waitFor('the rogue container to be killed', () => e.detections.history().some((d) => d.name === `enf-test-${run}-rogue` && d.outcome === 'killed'));
    expect(await containers.running(rogue)).to.equal(false);
    const told = await waitFor('the frontend to be told', () => frontend.requests[0]);
    expect(told.method).to.equal('POST');
    expect(told.url).to.equal(`/internal/jobs/${jobId}/fail`);
    expect(told.headers.authorization).to.equal('Bearer internal-secret');
    expect(told.body).to.deep.equal({ reason: 'killed by policy: test-memory-limit', detail: 'memory limit required' });
    expect(told.extra).to.deep.equal({ runningWhenTold: true });

    const scans = async () => parsePrometheus(await e.metrics.render()).find((s) => s.name === 'menagerie_enforcer_scans_total')?.value ?? 0;
    const after = await scans();
    await waitFor('two more scans', async () => (await scans()) >= after + 2);
    expect(await containers.running(warned), 'WARN mode only reports').to.equal(true);
    expect(await containers.running(kept), 'whitelisted').to.equal(true);
    expect(await containers.running(good), 'compliant').to.equal(true);

    const mineOnly = e.detections.history().filter((d) => d.labels['org.menagerie.test'] === run);
    const byName = (n: string) => mineOnly.filter((d) => d.name === n);
    expect(byName(`enf-test-${run}-rogue`).map((d) => d.outcome)).to.include('killed');
    expect(byName(`enf-test-${run}-warned`).every((d) => d.outcome === 'reported' && d.mode === 'warn')).to.equal(true);
    const warnedEntries = byName(`enf-test-${run}-warned`);
    expect(warnedEntries, 'a repeat is folded into one entry').to.have.length(1);
    expect(warnedEntries[0]?.count).to.be.at.least(2);
    expect(byName(`enf-test-keep-${run}`)).to.have.length(0);
    expect(byName(`enf-test-${run}-good`)).to.have.length(0);
    await waitFor('the webhook to receive detections', () => webhook.requests.some((r) => (r.body as { name?: string }).name === `enf-test-${run}-rogue`));
    const warnedHooks = webhook.requests.filter((r) => (r.body as { name?: string }).name === `enf-test-${run}-warned`);
    expect(warnedHooks, 'a repeat is not re-announced').to.have.length(1);
  });

  it('a warm-pool container (no job label) is killed after failing the job the frontend has on record for it', async () => {
    await frontend.close();
    const jobId = String(900_000_000 + Math.floor(Math.random() * 1e8));
    // The frontend stand-in knows which job the pool container runs (the worker recorded it).
    frontend = await new Recorder(async () => undefined, (r) => (r.url.startsWith('/internal/containers/')
      ? { jobid: jobId, engine: 'md5', status: 'Running', lease: 'a'.repeat(32), attempts: 1, lastError: null } : {})).start();
    const pooled = await containers.start('pooled', { kill: true, labels: { [LABELS.role]: 'pool', [LABELS.engine]: 'md5' } });
    const e = await start();
    await waitFor('the pool container to be killed', () => e.detections.history().some((d) => d.name === `enf-test-${run}-pooled` && d.outcome === 'killed'));
    expect(await containers.running(pooled)).to.equal(false);
    const asked = await waitFor('the frontend to be asked', () => frontend.requests.find((r) => r.method === 'GET'));
    expect(asked.url).to.equal(`/internal/containers/${pooled.id}`);
    expect(asked.headers.authorization).to.equal('Bearer internal-secret');
    const told = await waitFor('the frontend to be told', () => frontend.requests.find((r) => r.method === 'POST'));
    expect(told.url).to.equal(`/internal/jobs/${jobId}/fail`);
    expect(told.body).to.deep.equal({ reason: 'killed by policy: test-memory-limit', detail: 'memory limit required' });
  });

  it('serves the API: detections with options, recent, config with rules hash, rules, request_rules, triggers, parseable metrics', async () => {
    await containers.start('warned');
    const e = await start();
    const api = e.apiAddress as string;
    const get = async (path: string) => {
      const res = await fetch(`${api}${path}`);
      expect(res.status, path).to.equal(200);
      return path === '/metrics' ? res.text() : ((await res.json()) as Record<string, unknown>);
    };
    type D = { name: string; violated_rule: string; violated_rules?: Array<{ rule: string }>; image?: string; labels?: Record<string, string> };
    const name = `enf-test-${run}-warned`;
    const findMine = async (path: string) => ((await get(path)) as { detections: D[] }).detections.find((d) => d.name === name);
    const plain = await waitFor('a detection in /', () => findMine('/'));
    expect(plain.violated_rule).to.equal('test-memory-limit');
    expect(plain).to.not.have.property('violated_rules');
    expect(plain).to.not.have.property('image');
    const full = await findMine('/?show_all_violated_rules=1&show_image_and_labels=1');
    expect(full?.violated_rules?.map((v) => v.rule)).to.deep.equal(['test-memory-limit', 'test-pids-limit']);
    expect(full?.image).to.equal('menagerie/busybox:latest');
    expect(full?.labels?.['org.menagerie.test']).to.equal(run);
    await waitFor('a detection in /recent', () => findMine('/recent'));

    const config = (await get('/config')) as { rules: { hash: string; count: number }; frontend: { internalToken: string } };
    expect(config.rules.hash).to.equal(e.judge.currentRules().hash).and.match(/^[0-9a-f]{64}$/);
    expect(config.frontend.internalToken).to.equal('set');
    expect(JSON.stringify(config)).to.not.include('internal-secret');
    expect(((await get('/rules')) as { rules: Array<{ name: string }> }).rules.map((r) => r.name)).to.deep.equal(['test-memory-limit', 'test-pids-limit']);
    expect(((await get('/request_rules')) as { rules: string[] }).rules).to.deep.equal(['test-memory-limit', 'test-pids-limit']);
    const triggers = (await get('/triggers')) as { log: boolean; webhooks: string[] };
    expect(triggers.log).to.equal(true);
    expect(triggers.webhooks).to.deep.equal([`${webhook.url}/hook`]);

    const samples = parsePrometheus((await get('/metrics')) as string);
    const value = (n: string, labels: Record<string, string> = {}) =>
      samples.filter((s) => s.name === n && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
    expect(value('menagerie_enforcer_evaluations_total', { source: 'periodic' })).to.be.greaterThan(0);
    expect(value('menagerie_enforcer_violations_total', { rule: 'test-memory-limit', action: 'warn' })).to.be.greaterThan(0);
    expect(value('menagerie_enforcer_scans_total', { source: 'periodic', result: 'ok' })).to.be.greaterThan(0);
    expect(value('menagerie_enforcer_last_scan_timestamp_seconds')).to.be.closeTo(Date.now() / 1000, 30);
    expect(value('menagerie_enforcer_rules_loaded')).to.equal(2);
    expect((await fetch(`${api}/nope`)).status).to.equal(404);
  });

  it('requires the token when one is configured', async () => {
    const config = testConfig(run, rules(run), { periodic: { intervalSeconds: 60, immediate: false }, api: { listen: { host: '127.0.0.1', port: 0 }, token: 'a-long-enough-api-token' } });
    enforcer = await startEnforcer(config, { docker, log: () => undefined });
    const url = `${enforcer.apiAddress}/config`;
    const denied = await fetch(url);
    expect(denied.status).to.equal(401);
    expect(((await denied.json()) as { error: { code: string } }).error.code).to.equal('UNAUTHORIZED');
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-of-same-len' } })).status).to.equal(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer a-long-enough-api-token' } })).status).to.equal(200);
  });
});

import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePrometheus, type PromSample } from '../integration/enforcer/prometheus-parse.js';
import { DockerSwitch } from '../support/docker-switch.js';
import { roleTokens } from '../support/role-tokens.js';
import { amqpUrl, testEngine, unique } from '../support/services.js';
import { bearer, startStack, upload, waitDone, type Stack } from '../support/stack.js';
import { TcpSwitch } from '../support/tcp-switch.js';

/** Sums the samples of `name` whose labels include `labels`. */
function value(samples: PromSample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

describe('e2e: /metrics, /healthz and /readyz of the frontend and menage', function () {
  this.timeout(180_000);
  let stack: Stack;
  let dir: string;
  let dockerSwitch: DockerSwitch;
  let brokerSwitch: TcpSwitch;
  const metricsToken = randomBytes(16).toString('hex');
  const tokens: Record<'admin' | 'read' | 'submit' | 'worker', string> = { admin: '', read: '', submit: '', worker: '' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-obs-'));
    dockerSwitch = new DockerSwitch(join(dir, 'docker', 'docker.sock'));
    await dockerSwitch.on();
    const broker = new URL(amqpUrl());
    brokerSwitch = new TcpSwitch({ host: broker.hostname, port: Number(broker.port || 5672) });
    await brokerSwitch.on();
    broker.hostname = '127.0.0.1';
    broker.port = String(brokerSwitch.port);
    const key = randomBytes(24).toString('hex');
    stack = await startStack([
      testEngine('md5', { image: 'menagerie/md5:latest', cmd: '/engine/run', workers: 2 }),
      testEngine('fail', { cmd: ['/engine/fail', '7'] }),
    ], { overrides: {
      auth: { mode: 'tokens', key, uploadsPerMinute: 1_000_000, uploadBurst: 1_000_000 },
      rabbitmq: { url: broker.toString(), prefix: unique('mt-') },
      menage: { dockerSocket: dockerSwitch.socket, metricsToken },
    } });
    Object.assign(tokens, await roleTokens(stack.env.config, key));
  });
  after(async () => {
    await brokerSwitch?.on();
    await dockerSwitch?.on();
    await stack?.close();
    await brokerSwitch?.off();
    await dockerSwitch?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const frontendMetrics = async (): Promise<PromSample[]> => {
    const res = await fetch(`${stack.url}/metrics`, { headers: bearer(tokens.read) });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
  };
  const menageMetrics = async (): Promise<PromSample[]> => {
    const res = await fetch(`${stack.menage?.opsUrl}/metrics`, { headers: bearer(metricsToken) });
    expect(res.status).to.equal(200);
    return parsePrometheus(await res.text());
  };

  it('counts jobs, stages, bytes, requests and errors by the right amounts with the right labels, in a strict exposition', async () => {
    const [fe0, me0] = [await frontendMetrics(), await menageMetrics()];
    const bodies = [randomBytes(1000), randomBytes(2000), randomBytes(3000)];
    const ids: string[] = [];
    for (const body of bodies) ids.push((await upload(stack.url, 'md5', body, { token: tokens.submit })).json.jobid as string);
    for (const body of ['x', 'y']) ids.push((await upload(stack.url, 'fail', body, { token: tokens.submit })).json.jobid as string);
    expect((await upload(stack.url, 'nosuch', 'z', { token: tokens.submit })).status).to.equal(404);
    const done = await Promise.all(ids.map((id) => waitDone(stack.url, id, 60_000, tokens.submit)));
    expect(done.map((d) => d.status)).to.deep.equal(['Success', 'Success', 'Success', 'Fail', 'Fail']);
    // menage counts a delivery once its handler returns, just after the frontend recorded it.
    let me1 = await menageMetrics();
    for (let i = 0; i < 50 && value(me1, 'menagerie_menage_jobs_total') - value(me0, 'menagerie_menage_jobs_total') < 5; i++) {
      await sleep(100);
      me1 = await menageMetrics();
    }
    const fe1 = await frontendMetrics();
    const fd = (name: string, labels: Record<string, string> = {}): number => value(fe1, name, labels) - value(fe0, name, labels);
    const md = (name: string, labels: Record<string, string> = {}): number => value(me1, name, labels) - value(me0, name, labels);

    expect(fd('menagerie_jobs_finished_total', { engine: 'md5', status: 'Success', reason: '' })).to.equal(3);
    expect(fd('menagerie_jobs_finished_total', { engine: 'fail', status: 'Fail', reason: 'exit code' })).to.equal(2);
    expect(fd('menagerie_jobs_finished_total')).to.equal(5);
    for (const stage of ['upload', 'store', 'publish']) expect([stage, fd('menagerie_frontend_stage_seconds_count', { stage })]).to.deep.equal([stage, 5]);
    expect(fd('menagerie_frontend_upload_bytes_count')).to.equal(5);
    expect(fd('menagerie_frontend_upload_bytes_sum')).to.equal(1000 + 2000 + 3000 + 1 + 1);
    expect(fd('menagerie_frontend_http_requests_total', { method: 'POST', route: '/:engine/upload', status: '200' })).to.equal(5);
    expect(fd('menagerie_frontend_http_requests_total', { method: 'POST', route: '/:engine/upload', status: '404' })).to.equal(1);
    expect(fd('menagerie_frontend_errors_total', { code: 'UNKNOWN_ENGINE' })).to.equal(1);
    expect(value(fe1, 'menagerie_engine_slots_total', { engine: 'md5' })).to.equal(2);
    expect(fe1.some((s) => s.name === 'menagerie_queue_depth' && s.labels.engine === 'md5'), 'queue depth of md5').to.equal(true);
    expect(value(fe1, 'process_resident_memory_bytes')).to.be.greaterThan(0);

    expect(md('menagerie_menage_jobs_total', { engine: 'md5', outcome: 'success' })).to.equal(3);
    expect(md('menagerie_menage_jobs_total', { engine: 'fail', outcome: 'fail' })).to.equal(2);
    for (const stage of ['queue_wait', 'lease', 'create', 'copy_in', 'run', 'collect', 'report']) {
      expect([stage, md('menagerie_menage_stage_seconds_count', { engine: 'md5', stage })]).to.deep.equal([stage, 3]);
    }
    for (const stage of ['queue_wait', 'lease', 'create', 'copy_in', 'run', 'report']) {
      expect([stage, md('menagerie_menage_stage_seconds_count', { engine: 'fail', stage })]).to.deep.equal([stage, 2]);
    }
    expect(md('menagerie_menage_stage_seconds_count', { engine: 'fail', stage: 'collect' }), 'a failed engine has no result to collect').to.equal(0);
    expect(value(me1, 'menagerie_menage_slots_total', { engine: 'md5' })).to.equal(2);
    expect(value(me1, 'menagerie_menage_slots_busy', { engine: 'md5' })).to.equal(0);
    expect(value(me1, 'menagerie_menage_docker_errors_total')).to.equal(0);
  });

  it('/metrics needs a read or admin token in tokens mode; /healthz and /readyz need none; exact paths only', async () => {
    const status = async (url: string, token?: string) => (await fetch(url, { headers: bearer(token) })).status;
    expect(await status(`${stack.url}/metrics`)).to.equal(401);
    expect(await status(`${stack.url}/metrics`, 'not-a-token')).to.equal(401);
    expect(await status(`${stack.url}/metrics`, tokens.submit)).to.equal(403);
    expect(await status(`${stack.url}/metrics`, tokens.worker)).to.equal(403);
    expect(await status(`${stack.url}/metrics`, tokens.admin)).to.equal(200);
    expect(await status(`${stack.url}/METRICS`, tokens.admin)).to.equal(404);
    for (const path of ['/healthz', '/readyz']) expect([path, await status(`${stack.url}${path}`)]).to.deep.equal([path, 200]);
    const ops = stack.menage?.opsUrl as string;
    expect(ops).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await status(`${ops}/metrics`)).to.equal(401);
    expect(await status(`${ops}/metrics`, tokens.admin)).to.equal(401);
    for (const path of ['/healthz', '/readyz']) expect([path, await status(`${ops}${path}`)]).to.deep.equal([path, 200]);
    const ready = await (await fetch(`${stack.url}/readyz`)).json();
    expect(ready).to.deep.equal({ status: 'ready', checks: { database: 'ok', broker: 'ok', store: 'ok' } });
    expect(await (await fetch(`${ops}/readyz`)).json()).to.deep.equal({ status: 'ready', checks: { broker: 'ok', docker: 'ok', frontend: 'ok' } });
  });

  it('/readyz turns 503 naming the dependency that went away (within the check bound), and 200 when it is back', async () => {
    const ops = stack.menage?.opsUrl as string;
    const ready = async (url: string) => {
      const started = Date.now();
      const res = await fetch(`${url}/readyz`);
      expect(Date.now() - started, 'bounded').to.be.lessThan(4000);
      return { status: res.status, json: (await res.json()) as { status: string; checks: Record<string, string> } };
    };
    const until = async (url: string, status: number) => {
      for (let i = 0; ; i++) {
        const r = await ready(url);
        if (r.status === status || i >= 60) return r;
        await sleep(250);
      }
    };

    await dockerSwitch.off();
    const noDocker = await ready(ops);
    expect(noDocker.status).to.equal(503);
    expect(noDocker.json.checks).to.deep.include({ docker: 'failed', frontend: 'ok' });
    expect((await fetch(`${ops}/healthz`)).status, 'still alive').to.equal(200);
    await dockerSwitch.on();
    expect((await until(ops, 200)).json).to.deep.equal({ status: 'ready', checks: { broker: 'ok', docker: 'ok', frontend: 'ok' } });

    await brokerSwitch.off();
    const feDown = await until(stack.url, 503);
    expect([feDown.status, feDown.json.checks]).to.deep.equal([503, { database: 'ok', broker: 'failed', store: 'ok' }]);
    expect(JSON.stringify(feDown.json)).to.not.match(/ECONNREFUSED|amqp|password/i);
    const menageDown = await until(ops, 503);
    expect(menageDown.json.checks.broker).to.be.oneOf(['failed', 'timeout']);
    expect((await fetch(`${stack.url}/healthz`)).status, 'the frontend is alive').to.equal(200);
    await brokerSwitch.on();
    expect((await until(stack.url, 200)).json.status).to.equal('ready');
    expect((await until(ops, 200)).json.status).to.equal('ready');
  });
});

import { expect } from 'chai';
import { TokenStore } from '../../../src/auth/token-store.js';
import { createToken } from '../../../src/auth/token-admin.js';
import { CONSOLE_CSP } from '../../../src/console/static.js';
import { databaseOptions } from '../../../src/frontend.js';
import { startStack, bearer, type Stack } from '../../support/stack.js';
import { testEngine } from '../../support/services.js';

const KEY = 'console-monitor-test-key-0123456789abcdef';

describe('console API (/monitor, the original console\'s routes) and the console files', function () {
  this.timeout(60_000);
  let stack: Stack;
  let reader: string;
  let alice: string;
  const ids: string[] = [];

  before(async () => {
    stack = await startStack([testEngine('alpha'), testEngine('beta'), testEngine('idle')], { menage: false, overrides: { auth: { mode: 'tokens', key: KEY } } });
    const tokens = new TokenStore(databaseOptions(stack.env.config));
    try {
      reader = (await createToken(tokens, KEY, { name: 'reader', role: 'read' })).token;
      alice = (await createToken(tokens, KEY, { name: 'alice', role: 'submit' })).token;
    } finally {
      await tokens.close();
    }
    const store = stack.frontend.store;
    // alpha: 3 Received (one alice's), 1 Running, 1 Fail; beta: 2 Success.
    const make = async (engine: string, owner: string | null = null): Promise<string> => {
      const id = await store.create({ engine, filename: `f${ids.length}.bin`, size: 1, sha256: '0'.repeat(64), owner });
      ids.push(id);
      return id;
    };
    await make('alpha');
    await make('alpha', 'alice');
    await make('alpha');
    await store.apply(await make('alpha'), 'start', { lease: 'a'.repeat(32), startedNow: true });
    const failed = await make('alpha');
    await store.apply(failed, 'force-fail', { reason: 'exit code 3', finishedNow: true });
    for (let i = 0; i < 2; i++) {
      const id = await make('beta');
      await store.apply(id, 'start', { lease: 'b'.repeat(32), startedNow: true });
      await store.apply(id, 'succeed', { finishedNow: true }, { lease: 'b'.repeat(32) });
    }
  });
  after(async () => {
    await stack?.close();
  });

  const get = async (path: string, token: string | undefined = reader): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${stack.url}${path}`, { headers: bearer(token) });
    return { status: res.status, json: await res.json() };
  };

  it('GET /monitor/queues: every configured engine and status, zeros included', async () => {
    const { status, json } = await get('/monitor/queues');
    expect(status).to.equal(200);
    expect(json).to.deep.equal({ Queues: {
      alpha: { RECEIVED: 3, RUNNING: 1, SUCCESS: 0, FAIL: 1 },
      beta: { RECEIVED: 0, RUNNING: 0, SUCCESS: 2, FAIL: 0 },
      idle: { RECEIVED: 0, RUNNING: 0, SUCCESS: 0, FAIL: 0 },
    } });
  });

  it('needs a token; a submit token counts only its owner\'s jobs', async () => {
    expect((await get('/monitor/queues', '')).status).to.equal(401);
    expect((await get('/monitor/jobs/paginate', 'wrong-token')).status).to.equal(401);
    const own = await get('/monitor/queues', alice);
    expect(own.json.Queues.alpha).to.deep.equal({ RECEIVED: 1, RUNNING: 0, SUCCESS: 0, FAIL: 0 });
    expect((await get('/monitor/jobs/paginate', alice)).json).to.deep.equal({ count: 1, max_index: Number(ids[1]) });
    expect((await get('/monitor/policy', alice)).status).to.equal(403);
  });

  it('GET /monitor/jobs/paginate: count and max_index with eng, st and min-id', async () => {
    const max = Number(ids[ids.length - 1]);
    expect((await get('/monitor/jobs/paginate')).json).to.deep.equal({ count: 7, max_index: max });
    expect((await get('/monitor/jobs/paginate?eng=alpha&st=RECEIVED,FAIL')).json).to.deep.equal({ count: 4, max_index: Number(ids[4]) });
    expect((await get(`/monitor/jobs/paginate?min-id=${ids[5]}`)).json).to.deep.equal({ count: 2, max_index: max });
    expect((await get(`/monitor/jobs/paginate?min-id=${max + 1}`)).json).to.deep.equal({ count: 0, max_index: 0 });
    expect((await get('/monitor/jobs/paginate?eng=&st=')).json.count).to.equal(7);
  });

  it('GET /monitor/jobs/<maxIdx>/<limit>/<page>: newest first, id <= maxIdx, offset (page-1)*limit', async () => {
    const first = await get(`/monitor/jobs/${ids[4]}/2/1?eng=alpha`);
    expect(first.status).to.equal(200);
    expect(first.json.jobs.map((j: { id: number }) => j.id)).to.deep.equal([Number(ids[4]), Number(ids[3])]);
    const row = first.json.jobs[0];
    expect(row).to.have.all.keys('id', 'engine', 'filename', 'status', 'created', 'started', 'finished', 'error');
    expect(row).to.include({ engine: 'alpha', filename: 'f4.bin', status: 'Fail', error: 'exit code 3' });
    expect(new Date(row.finished).getTime()).to.be.closeTo(Date.now(), 60_000);
    const third = await get(`/monitor/jobs/${ids[4]}/2/3?eng=alpha`);
    expect(third.json.jobs.map((j: { id: number }) => j.id)).to.deep.equal([Number(ids[0])]);
    const success = await get(`/monitor/jobs/${ids[6]}/10/1?st=Success`);
    expect(success.json.jobs.map((j: { status: string }) => j.status)).to.deep.equal(['Success', 'Success']);
  });

  it('bad parameters are a 400 INVALID_PARAMETER', async () => {
    for (const path of ['/monitor/jobs/paginate?min-id=-1', '/monitor/jobs/paginate?min-id=abc', '/monitor/jobs/paginate?st=DONE',
      '/monitor/jobs/paginate?eng=Bad%20Name', '/monitor/jobs/paginate?min-id=1&min-id=2', '/monitor/jobs/x/10/1',
      '/monitor/jobs/10/0/1', '/monitor/jobs/10/1001/1', '/monitor/jobs/10/10/0', '/monitor/jobs/10/10/1?st=RUNNING,nope',
      '/monitor/throughput?minutes=0', '/monitor/throughput?minutes=61']) {
      const { status, json } = await get(path);
      expect(status, path).to.equal(400);
      expect(json.error.code, path).to.equal('INVALID_PARAMETER');
    }
  });

  it('GET /monitor/throughput counts jobs finished in the window', async () => {
    const { json } = await get('/monitor/throughput?minutes=10');
    expect(json).to.deep.equal({ minutes: 10, finished: { alpha: { success: 0, fail: 1 }, beta: { success: 2, fail: 0 } }, perMinute: 0.3 });
  });

  it('GET /monitor/policy says plainly when the enforcer\'s API is not configured', async () => {
    const { status, json } = await get('/monitor/policy');
    expect(status).to.equal(200);
    expect(json.available).to.equal(false);
    expect(json.reason).to.match(/console\.enforcerUrl/);
  });

  it('serves the console at /console/ without a token, under a strict CSP', async () => {
    const redirect = await fetch(`${stack.url}/console`, { redirect: 'manual' });
    expect(redirect.status).to.equal(302);
    expect(redirect.headers.get('location')).to.equal('/console/');
    const page = await fetch(`${stack.url}/console/`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).to.equal(CONSOLE_CSP);
    expect(CONSOLE_CSP).to.contain("default-src 'self'").and.contain("frame-ancestors 'none'").and.not.contain('unsafe');
    expect(page.headers.get('x-frame-options')).to.equal('DENY');
    const html = await page.text();
    expect(html).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    expect(html).to.not.match(/\sstyle=/i, 'no inline style');
    expect(html).to.not.match(/https?:\/\//i, 'no outside asset');
    const js = await fetch(`${stack.url}/console/app.js`);
    expect(js.headers.get('content-type')).to.equal('text/javascript; charset=utf-8');
    const etag = js.headers.get('etag') ?? '';
    expect((await fetch(`${stack.url}/console/app.js`, { headers: { 'if-none-match': etag } })).status).to.equal(304);
    const missing = await fetch(`${stack.url}/console/nope.js`);
    expect(missing.status).to.equal(404);
    expect(missing.headers.get('content-security-policy')).to.equal(CONSOLE_CSP);
    // No request path reaches the file system: files are served from memory by name.
    for (const path of ['/console/..%2f..%2fpackage.json', '/console/%2e%2e/package.json', '/console/../package.json']) {
      const res = await fetch(`${stack.url}${path}`, { redirect: 'manual' });
      expect([404, 301], path).to.include(res.status);
      expect(await res.text(), path).to.not.contain('devDependencies');
    }
  });
});

import { expect } from 'chai';
import { Authenticator } from '../../../src/auth/authenticator.js';
import { createApp } from '../../../src/http/app.js';
import { UnavailableError } from '../../../src/errors.js';
import { internalSpellings, rawRequest, serve } from '../../support/raw-http.js';
import { fakeService, noFiles } from './fakes.js';
import { memoryLog } from '../../support/log.js';

describe('http: the public app (createApp)', () => {
  const logs: string[] = [];
  let healthy = true;
  let server: Awaited<ReturnType<typeof serve>>;
  const get = (path: string, method = 'GET') => rawRequest(server.url, method, path);

  before(async () => {
    const health = async (): Promise<void> => {
      if (!healthy) throw new UnavailableError('BROKER_UNAVAILABLE', 'the job queue is not available');
    };
    server = await serve(createApp({ service: fakeService(), files: noFiles, health, log: memoryLog(logs), auth: new Authenticator({ mode: 'open' }),
      ready: { broker: health, database: async () => undefined, store: () => new Promise(() => undefined) } }).callback());
  });
  after(() => server.close());

  it('routes the public calls', async () => {
    expect((await get('/result/1')).json).to.deep.equal({ status: 'Running', summary: '', link: '' });
    expect((await get('/jobs/1')).json).to.include({ jobid: '1', status: 'Running' });
    expect((await get('/jobs/1/log')).text).to.equal('log');
    expect((await get('/healthz')).json).to.deep.equal({ status: 'ok' });
    expect((await get('/result/1/')).json, 'a trailing slash is tolerated, as before').to.include({ status: 'Running' });
  });

  it('answers errors as JSON with the catalogue status, never a driver message', async () => {
    const cases: [string, number, string][] = [
      ['/result/9', 404, 'JOB_NOT_FOUND'], ['/result/abc', 400, 'INVALID_JOB_ID'], ['/result/01', 400, 'INVALID_JOB_ID'],
      ['/link/1', 409, 'JOB_NOT_FINISHED'], ['/nosuch', 404, 'NOT_FOUND'], ['/RESULT/1', 404, 'NOT_FOUND'], ['/Result/1', 404, 'NOT_FOUND'],
      ['/result/2', 500, 'INTERNAL_ERROR'],
    ];
    for (const [path, status, code] of cases) {
      const res = await get(path);
      expect([path, res.status, res.json?.error?.code]).to.deep.equal([path, status, code]);
      expect(res.headers['content-type']).to.match(/^application\/json/);
    }
    const driver = await get('/result/2');
    expect(driver.text).to.not.match(/ECONNREFUSED|mysqld|at /);
    expect(logs.some((l) => l.includes('ECONNREFUSED'))).to.equal(true);
  });

  it('/healthz says the process answers; /readyz names the dependency that does not (a hung one within 2 s), with Retry-After', async () => {
    healthy = false;
    const alive = await get('/healthz');
    const started = Date.now();
    const res = await get('/readyz');
    healthy = true;
    expect(alive.json).to.deep.equal({ status: 'ok' });
    expect(Date.now() - started).to.be.lessThan(4000);
    expect([res.status, res.json, res.headers['retry-after']]).to.deep.equal([503, { status: 'not ready', checks: { broker: 'failed', database: 'ok', store: 'timeout' } }, '5']);
    expect(res.text).to.not.match(/queue is not available/);
  });

  it('an unknown method on a known path is 405 with Allow; a method it does not implement is 501; never 500', async () => {
    const errors = (): string[] => logs.filter((l) => l.includes('"level":"error"'));
    const logged = errors().length;
    for (const [method, path] of [['DELETE', '/result/1'], ['POST', '/result/1'], ['PATCH', '/link/1'], ['GET', '/copy/upload']]) {
      const res = await get(path as string, method);
      expect([method, path, res.status, res.json?.error?.code]).to.deep.equal([method, path, 405, 'METHOD_NOT_ALLOWED']);
      expect(res.headers.allow, `${method} ${path}`).to.be.a('string').and.not.equal('');
    }
    expect((await get('/result/1', 'DELETE')).headers.allow).to.equal('HEAD, GET');
    for (const [method, path] of [['PROPFIND', '/result/1'], ['TRACE', '/result/1'], ['MKCOL', '/nosuch'], ['PURGE', '/link/1']]) {
      const res = await get(path as string, method);
      expect([method, res.status, res.json?.error?.code]).to.deep.equal([method, 501, 'NOT_IMPLEMENTED']);
    }
    expect(errors().length, 'nothing logged as an internal error').to.equal(logged);
  });

  it('has no internal route at all: every spelling of /internal is a plain 404', async () => {
    for (const path of internalSpellings('1')) {
      const res = await get(path);
      if (res.status === 301) {
        const next = await get(res.headers.location as string);
        expect([path, next.status, next.json?.error?.code]).to.deep.equal([path, 404, 'NOT_FOUND']);
      } else expect([path, res.status, res.json?.error?.code]).to.deep.equal([path, 404, 'NOT_FOUND']);
      expect(res.text, path).to.not.include('lease');
    }
  });

  it('cleans paths like the original: doubled slashes and dot segments get a 301 to the clean path, query kept', async () => {
    const cases: [string, string][] = [
      ['//link/5', '/link/5'], ['/result/./5', '/result/5'], ['//result//5?x=1&y', '/result/5?x=1&y'], ['/a/../result/1', '/result/1'],
      ['/../../result/1', '/result/1'], ['/jobs/./1/log/', '/jobs/1/log/'], ['//evil.example/x', '/evil.example/x'],
    ];
    for (const [path, location] of cases) {
      const res = await get(path);
      expect([path, res.status, res.headers.location]).to.deep.equal([path, 301, location]);
    }
    const followed = await get((await get('//result/1')).headers.location as string);
    expect(followed.json.status).to.equal('Running');
  });

  it('follows the original client: base ending in "/" plus the link it was given', async () => {
    const base = `${server.url}/`;
    const link = '/result/1';
    const res = await fetch(base + link);
    expect(res.redirected).to.equal(true);
    expect(new URL(res.url).pathname).to.equal('/result/1');
    expect(((await res.json()) as { status: string }).status).to.equal('Running');
  });

  it('never redirects a path whose clean form another host could read (backslash, raw bytes)', async () => {
    for (const path of ['/\\evil.example//x', '//\\evil.example/x']) {
      const res = await get(path);
      expect([path, res.status, res.headers.location]).to.deep.equal([path, 404, undefined]);
    }
  });
});

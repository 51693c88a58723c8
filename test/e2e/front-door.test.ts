import { expect } from 'chai';
import { FrontendClient } from '../../src/menage/frontend-client.js';
import { internalSpellings, rawBytes, rawRequest } from '../support/raw-http.js';
import { startStack, upload, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

/** The front door of a real frontend (its own MariaDB database and RabbitMQ prefix): both listeners. */
describe('e2e: the front door (public and internal listeners of a running frontend)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let client: FrontendClient;
  let id: string;
  let lease: string;

  before(async () => {
    stack = await startStack([testEngine('copy')], { menage: false, overrides: { jobs: { maxAttempts: 2, reapGraceSeconds: 60, leaseSeconds: 30, infrastructureTimeoutSeconds: 1 } } });
    client = new FrontendClient(stack.internalUrl, stack.env.config.internalToken);
    id = (await upload(stack.url, 'copy', 'secret sample')).json.jobid as string;
    const s = await client.start(id, 'front-door');
    if (typeof s === 'string') throw new Error(`not started: ${s}`);
    lease = s.lease;
  });
  after(async () => {
    await stack?.close();
  });

  it('public listener: every spelling of /internal is a 404 (directly or after a cleaning 301), never job data', async () => {
    const token = { authorization: `Bearer ${stack.env.config.internalToken}` };
    for (const path of internalSpellings(id)) {
      for (const headers of [{}, token]) {
        let res = await rawRequest(stack.url, 'GET', path, headers);
        if (res.status === 301) res = await rawRequest(stack.url, 'GET', res.headers.location as string, headers);
        expect([path, res.status, res.json?.error?.code]).to.deep.equal([path, 404, 'NOT_FOUND']);
        expect(res.text, path).to.not.include(lease).and.not.include('secret sample');
      }
      const put = await rawRequest(stack.url, 'POST', path, { ...token, 'content-type': 'application/json' }, JSON.stringify({ worker: 'x', lease, reason: 'x' }));
      expect([path, put.status < 500, put.text.includes(lease)]).to.deep.equal([path, true, false]);
    }
    expect((await client.status(id))?.status, 'nothing changed the job').to.equal('Running');
  });

  it('internal listener: every spelling without a valid token is a 401, never job data', async () => {
    const bad: Record<string, string>[] = [{}, { authorization: 'Bearer nope' }, { authorization: stack.env.config.internalToken },
      { authorization: `Bearer ${stack.env.config.internalToken}.` }, { authorization: `Basic ${stack.env.config.internalToken}` }];
    for (const path of [...internalSpellings(id), `/result/${id}`, `/link/${id}`, '/healthz']) {
      for (const headers of bad) {
        for (const method of ['GET', 'POST', 'PUT']) {
          const res = await rawRequest(stack.internalUrl, method, path, headers);
          expect([method, path, res.status, res.json?.error?.code]).to.deep.equal([method, path, 401, 'UNAUTHORIZED']);
          expect(res.text).to.not.include(lease).and.not.include('secret sample');
        }
      }
    }
    expect((await client.status(id))?.lease).to.equal(lease);
  });

  it('unknown methods: 405 with Allow on a known path, 501 for methods the server does not implement, never 500', async () => {
    const logged = stack.logs.length;
    const del = await rawRequest(stack.url, 'DELETE', `/result/${id}`);
    expect([del.status, del.json.error.code, del.headers.allow]).to.deep.equal([405, 'METHOD_NOT_ALLOWED', 'HEAD, GET']);
    const upl = await rawRequest(stack.url, 'GET', '/copy/upload');
    expect([upl.status, upl.headers.allow]).to.deep.equal([405, 'POST, PUT']);
    const propfind = await rawRequest(stack.url, 'PROPFIND', `/result/${id}`);
    expect([propfind.status, propfind.json.error.code]).to.deep.equal([501, 'NOT_IMPLEMENTED']);
    const brew = await rawBytes(stack.url, `BREW /result/${id} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(brew).to.match(/^HTTP\/1.1 501 /);
    expect(JSON.parse(brew.split('\r\n\r\n')[1] as string).error.code).to.equal('NOT_IMPLEMENTED');
    const internal = await rawRequest(stack.internalUrl, 'DELETE', `/internal/jobs/${id}/start`, { authorization: `Bearer ${stack.env.config.internalToken}` });
    expect([internal.status, internal.headers.allow]).to.deep.equal([405, 'POST']);
    expect(stack.logs.slice(logged).filter((l) => /INTERNAL_ERROR/.test(l))).to.deep.equal([]);
    expect((await fetch(`${stack.url}/healthz`)).status, 'still serving').to.equal(200);
  });

  it('a job handed back until its attempts ran out shows the reason and a fixed text; the driver error is only in the operator view', async () => {
    const job = (await upload(stack.url, 'copy', 'x')).json.jobid as string;
    const driver = 'cannot create the container: connect ECONNREFUSED /var/run/docker.sock\n    at Pipe.onStreamRead (node:internal/stream_base_commons:217:20)';
    for (let i = 0; i < 2; i++) {
      const s = await client.start(job, 'w');
      if (typeof s === 'string') throw new Error(`attempt ${i + 1} not started: ${s}`);
      expect(await client.release(job, s.lease, driver)).to.equal('recorded');
    }
    expect(await client.start(job, 'w')).to.equal('finished');
    const view = (await (await fetch(`${stack.url}/result/${job}`)).json()) as { status: string; summary: string };
    const details = await (await fetch(`${stack.url}/jobs/${job}`)).text();
    const text = await (await fetch(`${stack.url}/link/${job}`)).text();
    expect(view.status).to.equal('Fail');
    expect(view.summary).to.match(/^gave up after 2 attempts\n/);
    for (const shown of [view.summary, details, text]) expect(shown).to.not.match(/ECONNREFUSED|docker\.sock|\/var\/run|node:internal|at Pipe/);
    expect(text).to.match(/^gave up after 2 attempts\nthe appliance could not run this job/);
    expect((await client.status(job))?.lastError).to.include('ECONNREFUSED /var/run/docker.sock');
    expect(stack.logs.some((l) => l.startsWith(`job ${job} handed back: cannot create the container: connect ECONNREFUSED`)), 'logged for operators').to.equal(true);
  });

  it('a job our own outages kept from running past the timeout: the same, with the infrastructure reason', async () => {
    const job = (await upload(stack.url, 'copy', 'z')).json.jobid as string;
    const driver = 'cannot start the container: (HTTP code 500) server error - open /var/lib/docker/overlay2/x: no such file';
    for (let i = 0; i < 2; i++) {
      const s = await client.start(job, 'w');
      if (typeof s === 'string') throw new Error(`run ${i + 1} not started: ${s}`);
      await client.release(job, s.lease, driver, true);
      await new Promise((r) => setTimeout(r, 1200));
    }
    const view = (await (await fetch(`${stack.url}/result/${job}`)).json()) as { status: string; summary: string };
    const shown = [view.summary, await (await fetch(`${stack.url}/jobs/${job}`)).text(), await (await fetch(`${stack.url}/link/${job}`)).text()];
    expect(view.status).to.equal('Fail');
    expect(view.summary).to.match(/^infrastructure unavailable\n/);
    for (const text of shown) expect(text).to.not.match(/overlay2|\/var\/lib|HTTP code 500/);
    expect((await client.status(job))?.lastError).to.include('overlay2');
  });

  it("the original's client (base ending in '/' + link) follows a 301 to the clean path and gets the result", async () => {
    const job = (await upload(stack.url, 'copy', 'y')).json.jobid as string;
    const s = await client.start(job, 'w');
    if (typeof s === 'string') throw new Error(`not started: ${s}`);
    const { Readable } = await import('node:stream');
    await client.result(job, s.lease, Readable.from([Buffer.from('the result')]), { network: 'none' }, AbortSignal.timeout(10_000));
    const base = `${stack.url}/`;
    const first = await rawRequest(stack.url, 'GET', `//result/${job}?x=1`);
    expect([first.status, first.headers.location]).to.deep.equal([301, `/result/${job}?x=1`]);
    const view = (await (await fetch(`${base}/result/${job}`)).json()) as { status: string; link: string };
    expect(view).to.include({ status: 'Success', link: `/link/${job}` });
    const res = await fetch(base + view.link);
    expect([res.status, await res.text()]).to.deep.equal([200, 'the result']);
    expect(res.redirected).to.equal(true);
    const dots = await rawRequest(stack.url, 'GET', `/result/./${job}`);
    expect([dots.status, dots.headers.location]).to.deep.equal([301, `/result/${job}`]);
  });
});

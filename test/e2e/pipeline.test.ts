import { expect } from 'chai';
import Docker from 'dockerode';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack, upload, waitDone, waitNoContainers, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

const docker = new Docker();
const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

describe('e2e: upload → container → result', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack([
      { ...testEngine('md5', { image: 'menagerie/md5:latest', cmd: '/engine/run', workers: 2 }) },
      testEngine('copy', { sizelimit: 1000 }),
      testEngine('fail', { cmd: ['/engine/fail', '7'] }),
      testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 2 }),
      testEngine('noresult', { cmd: ['/engine/noresult'] }),
    ]);
  });
  after(async () => {
    await stack?.close();
  });
  afterEach(async () => {
    // Whatever the test did, menage must leave no container (and so no anonymous volume) behind.
    expect(await waitNoContainers(docker, stack.node)).to.deep.equal([]);
  });

  for (const method of ['POST', 'PUT']) {
    it(`${method} upload → Success → /link returns the md5`, async () => {
      const body = randomBytes(5000);
      const { status, json } = await upload(stack.url, 'md5', body, { method });
      expect(status).to.equal(200);
      expect(json.jobid).to.be.a('string').and.match(/^[1-9][0-9]*$/);
      const done = await waitDone(stack.url, json.jobid);
      expect(done).to.deep.equal({ status: 'Success', summary: `${md5(body)}\n`, link: `/link/${json.jobid}` });
      const link = await fetch(`${stack.url}${done.link}`);
      expect(link.status).to.equal(200);
      expect(await link.text()).to.equal(`${md5(body)}\n`);
    });
  }

  it('answers /result while the job is not finished with an empty summary and link', async () => {
    const { json } = await upload(stack.url, 'slow', 'x');
    const res = await fetch(`${stack.url}/result/${json.jobid}`);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    const view = (await res.json()) as { status: string; summary: string; link: string };
    expect(['Received', 'Running']).to.include(view.status);
    expect(view.summary).to.equal('');
    expect(view.link).to.equal('');
    await waitDone(stack.url, json.jobid);
  });

  it('serves results as downloads that never render as HTML', async () => {
    const html = '<html><script>alert(1)</script></html>';
    const { json } = await upload(stack.url, 'copy', html, { filename: 'x.html' });
    await waitDone(stack.url, json.jobid);
    const res = await fetch(`${stack.url}/link/${json.jobid}`);
    expect(res.headers.get('content-type')).to.equal('application/octet-stream');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('content-disposition')).to.match(/^attachment/);
    expect(res.headers.get('content-security-policy')).to.contain('sandbox');
    expect(await res.text()).to.equal(html);
  });

  it('summary is the first 80 bytes, also for short results, as valid UTF-8', async () => {
    const long = `${'é'.repeat(39)}xé-and-more-text-beyond-eighty-bytes`;
    const { json } = await upload(stack.url, 'copy', long);
    const done = await waitDone(stack.url, json.jobid);
    expect(Buffer.byteLength(done.summary)).to.be.at.most(80);
    expect(long.startsWith(done.summary)).to.equal(true);
    expect(done.summary).to.equal(`${'é'.repeat(39)}x`);
    const short = await upload(stack.url, 'copy', 'tiny');
    expect((await waitDone(stack.url, short.json.jobid)).summary).to.equal('tiny');
  });

  it('a non-zero exit fails the job with the exit code, the engine output in the error text', async () => {
    const { json } = await upload(stack.url, 'fail', 'x');
    const done = await waitDone(stack.url, json.jobid);
    expect(done.status).to.equal('Fail');
    expect(done.summary).to.match(/^exit code 7\n/);
    expect(done.link).to.equal(`/link/${json.jobid}`);
    const text = await (await fetch(`${stack.url}${done.link}`)).text();
    expect(text).to.contain('exit code 7').and.contain('engine error: cannot parse sample');
    const job = (await (await fetch(`${stack.url}/jobs/${json.jobid}`)).json()) as { reason: string };
    expect(job.reason).to.equal('exit code 7');
    const log = await fetch(`${stack.url}/jobs/${json.jobid}/log`);
    expect(log.status).to.equal(200);
    expect(await log.text()).to.contain('analysing sample').and.contain('engine error: cannot parse sample');
  });

  it('an engine past its timeout is killed: Fail "timeout", container gone', async () => {
    const started = Date.now();
    const { json } = await upload(stack.url, 'slow', 'x');
    const done = await waitDone(stack.url, json.jobid);
    expect(done.status).to.equal('Fail');
    expect(done.summary).to.match(/^timeout/);
    expect(Date.now() - started).to.be.below(20_000);
  });

  it('exit 0 without a result file is a failure, never an empty success', async () => {
    const { json } = await upload(stack.url, 'noresult', 'x');
    const done = await waitDone(stack.url, json.jobid);
    expect(done.status).to.equal('Fail');
    expect(done.summary).to.match(/^no result file/);
  });

  it('accepts a file of exactly sizelimit bytes and refuses one byte more with 413, keeping nothing', async () => {
    const ok = await upload(stack.url, 'copy', randomBytes(1000));
    expect(ok.status).to.equal(200);
    await waitDone(stack.url, ok.json.jobid);
    const before = await readdir(stack.env.config.store.dir);
    const tooBig = await upload(stack.url, 'copy', randomBytes(1001));
    expect(tooBig.status).to.equal(413);
    expect(tooBig.json.error.code).to.equal('UPLOAD_TOO_LARGE');
    expect(tooBig.json.error.message).to.contain('1000 bytes');
    expect(await readdir(stack.env.config.store.dir)).to.deep.equal(before);
    expect(await readdir(join(stack.env.config.store.dir, '.tmp'))).to.deep.equal([]);
    const nextId = String(Number(ok.json.jobid) + 1);
    expect((await fetch(`${stack.url}/result/${nextId}`)).status).to.equal(404);
  });

  it('a client that goes away mid-upload leaves no file and no job row', async () => {
    const tmp = join(stack.env.config.store.dir, '.tmp');
    const before = await readdir(stack.env.config.store.dir);
    const req = request(`${stack.url}/md5/upload`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XX' } });
    req.on('error', () => undefined);
    req.write('--XX\r\nContent-Disposition: form-data; name="upload"; filename="f"\r\n\r\n');
    req.write(Buffer.alloc(200_000, 7));
    for (let i = 0; i < 50 && (await readdir(tmp)).length === 0; i++) await sleep(50);
    expect(await readdir(tmp)).to.have.length(1);
    req.destroy();
    for (let i = 0; i < 50 && (await readdir(tmp)).length > 0; i++) await sleep(50);
    expect(await readdir(tmp)).to.deep.equal([]);
    expect(await readdir(stack.env.config.store.dir)).to.deep.equal(before);
  });

  it('refuses unknown engines, unknown and malformed ids, and forms without the upload field', async () => {
    const unknown = await upload(stack.url, 'nosuch', 'x');
    expect(unknown.status).to.equal(404);
    expect(unknown.json.error.code).to.equal('UNKNOWN_ENGINE');
    const missing = await fetch(`${stack.url}/result/999999`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).to.equal('JOB_NOT_FOUND');
    for (const bad of ['abc', '0', '-1', '01', '1.5', '9'.repeat(30)]) {
      const res = await fetch(`${stack.url}/result/${bad}`);
      expect(res.status, bad).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('INVALID_JOB_ID');
      expect((await fetch(`${stack.url}/link/${bad}`)).status).to.equal(400);
    }
    const noField = await upload(stack.url, 'copy', 'x', { field: 'other' });
    expect(noField.status).to.equal(400);
    expect(noField.json.error.code).to.equal('MISSING_UPLOAD');
    const notMultipart = await fetch(`${stack.url}/copy/upload`, { method: 'POST', body: 'raw' });
    expect(notMultipart.status).to.equal(400);
  });

  it('the internal API refuses a missing or wrong token, and is not on the public listener', async () => {
    const { json } = await upload(stack.url, 'copy', 'x');
    await waitDone(stack.url, json.jobid);
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: stack.env.config.internalToken }] as Record<string, string>[]) {
      const res = await fetch(`${stack.internalUrl}/internal/jobs/${json.jobid}/input`, { headers });
      expect(res.status).to.equal(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('UNAUTHORIZED');
    }
    const nothing = await fetch(`${stack.internalUrl}/internal/nosuch`);
    expect(nothing.status).to.equal(401);
    const token = { headers: { authorization: `Bearer ${stack.env.config.internalToken}` } };
    const ok = await fetch(`${stack.internalUrl}/internal/jobs/${json.jobid}/input`, token);
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.equal('x');
    const publicPort = await fetch(`${stack.url}/internal/jobs/${json.jobid}/input`, token);
    expect(publicPort.status).to.equal(404);
    expect(((await publicPort.json()) as { error: { code: string } }).error.code).to.equal('NOT_FOUND');
  });

  it('records the containment actually in force, read back from Docker', async () => {
    const { json } = await upload(stack.url, 'md5', 'x');
    await waitDone(stack.url, json.jobid);
    const job = (await (await fetch(`${stack.url}/jobs/${json.jobid}`)).json()) as { containment: Record<string, unknown> };
    expect(job.containment).to.include({ network: 'none', readonlyRootfs: true, privileged: false, noNewPrivileges: true, pidsLimit: 64 });
    expect(job.containment.capDrop).to.deep.equal(['ALL']);
    expect(job.containment.imageId).to.match(/^sha256:[0-9a-f]{64}$/);
  });
});

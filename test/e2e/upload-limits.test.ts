import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFrontendProcess, type FrontendProcess } from '../support/frontend-process.js';
import { filePart, multipart } from '../support/multipart-fuzz.js';
import { rawRequest, type RawOutcome } from '../support/raw-socket.js';
import { testEngine } from '../support/services.js';
import { upload } from '../support/stack.js';

const LIMIT = 1000;
/** Engine `large`: bodies of several MiB, many reads and writes on the upload path. */
const LARGE = 6 * 1024 * 1024;
const BOUNDARY = 'limits-boundary';
const TYPE = `multipart/form-data; boundary=${BOUNDARY}`;

/** A request head; `length` undefined means chunked framing. */
function head(length: number | undefined, contentType = TYPE, engine = 'small'): Buffer {
  const framing = length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  return Buffer.from(`POST /${engine}/upload HTTP/1.1\r\nHost: t\r\nContent-Type: ${contentType}\r\n${framing}\r\n\r\n`);
}

function form(size: number): Buffer {
  return multipart(BOUNDARY, [filePart('upload', Buffer.alloc(size, 0x61))]);
}

function errorOf(out: RawOutcome): { status: number; code: string; headers: Record<string, string> } {
  if (out.kind !== 'response') throw new Error(`expected a response, got ${JSON.stringify(out)}`);
  expect(out.headers['content-type']).to.match(/^application\/json/);
  const json = JSON.parse(out.body.toString()) as { error: { code: string; message: string } };
  expect(json.error.message).to.be.a('string');
  return { status: out.status, code: json.error.code, headers: out.headers };
}

describe('e2e: upload limits, timeouts and cleanup on a real frontend process (issue 15.3, 15.8)', function () {
  this.timeout(60_000);
  let fe: FrontendProcess;
  let stored: string[];

  before(async () => {
    fe = await startFrontendProcess([testEngine('small', { sizelimit: LIMIT }), testEngine('large', { sizelimit: LARGE })],
      { uploads: { idleTimeoutSeconds: 1, maxConcurrent: 2 } });
  });
  after(async () => {
    await fe?.close();
  });
  beforeEach(async () => {
    stored = await fe.storeFiles();
  });
  afterEach(() => {
    expect(fe.proc.running && fe.proc.pid === fe.pid, `the frontend restarted or exited:\n${fe.proc.output}`).to.equal(true);
  });

  /** The store holds exactly what it held before the test's request: checked at once, no waiting. */
  const expectStoreUnchanged = async (): Promise<void> => {
    expect(await fe.storeFiles()).to.deep.equal(stored);
  };

  it('sizelimit+1 bytes gets 413 and its temporary file is gone when the answer arrives', async () => {
    const body = form(LIMIT + 1);
    const out = await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(body.length), body]) }], ending: 'wait', timeoutMs: 10_000 });
    expect(errorOf(out)).to.deep.include({ status: 413, code: 'UPLOAD_TOO_LARGE' });
    await expectStoreUnchanged();
  });

  it('sizelimit+1 bytes in chunked framing (no Content-Length to judge) gets 413 and leaves nothing', async () => {
    const body = form(LIMIT + 1);
    const chunked = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const out = await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(undefined), chunked]) }], ending: 'wait', timeoutMs: 10_000 });
    expect(errorOf(out)).to.deep.include({ status: 413, code: 'UPLOAD_TOO_LARGE' });
    await expectStoreUnchanged();
  });

  it('exactly sizelimit bytes is accepted and only its job input stays', async () => {
    const res = await upload(fe.url, 'small', Buffer.alloc(LIMIT, 0x62));
    expect(res.status).to.equal(200);
    expect(await fe.storeFiles()).to.deep.equal([...stored, `${res.json.jobid}/input`].sort());
  });

  for (const [what, body] of [
    ['a truncated body', form(500).subarray(0, 300)],
    ['a body without the file field', multipart(BOUNDARY, [filePart('other', Buffer.from('x'))])],
    ['two files in the field', multipart(BOUNDARY, [filePart('upload', Buffer.from('a')), filePart('upload', Buffer.from('b'))])],
  ] as const) {
    it(`${what} gets 400 JSON and leaves nothing`, async () => {
      const out = await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(body.length), body]) }], ending: 'wait', timeoutMs: 10_000 });
      expect(errorOf(out).status).to.equal(400);
      await expectStoreUnchanged();
    });
  }

  it('a connection closed in the middle of the body leaves nothing', async () => {
    const body = form(900);
    await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(body.length), body.subarray(0, 600)]) }, { data: Buffer.alloc(0), delayMs: 200 }], ending: 'abort', timeoutMs: 1000 });
    // The server learns of the close asynchronously; it has a moment, far less than any sweep.
    for (let k = 0; k < 20 && (await fe.storeFiles()).length !== stored.length; k++) await sleep(50);
    await expectStoreUnchanged();
    expect((await fetch(`${fe.url}/healthz`)).status).to.equal(200);
  });

  it('large uploads, with a length and chunked, are stored whole with their sha256; one byte over is 413', async () => {
    for (const [size, chunked] of [[LARGE, false], [5 * 1024 * 1024 + 3, true], [LARGE + 1, false]] as const) {
      const data = randomBytes(size);
      const body = multipart(BOUNDARY, [filePart('upload', data)]);
      const wire = chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
      const out = await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(chunked ? undefined : body.length, TYPE, 'large'), wire]) }], ending: 'wait', timeoutMs: 20_000 });
      if (size > LARGE) {
        expect(errorOf(out)).to.deep.include({ status: 413, code: 'UPLOAD_TOO_LARGE' });
        await expectStoreUnchanged();
        continue;
      }
      expect(out.kind === 'response' && out.status, JSON.stringify(out).slice(0, 300)).to.equal(200);
      const jobid = (JSON.parse(out.kind === 'response' ? out.body.toString() : '{}') as { jobid: string }).jobid;
      const job = await (await fetch(`${fe.url}/jobs/${jobid}`)).json() as { size: number; sha256: string };
      expect([job.size, job.sha256]).to.deep.equal([size, createHash('sha256').update(data).digest('hex')]);
      expect((await readFile(join(fe.storeDir, jobid, 'input'))).equals(data)).to.equal(true);
      stored = await fe.storeFiles();
    }
  });

  it('a large upload whose connection closes after 3 MiB leaves nothing', async () => {
    const body = multipart(BOUNDARY, [filePart('upload', randomBytes(5 * 1024 * 1024))]);
    await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(body.length, TYPE, 'large'), body.subarray(0, 3 * 1024 * 1024)]) },
      { data: Buffer.alloc(0), delayMs: 300 }], ending: 'abort', timeoutMs: 5000 });
    for (let k = 0; k < 40 && (await fe.storeFiles()).length !== stored.length; k++) await sleep(50);
    await expectStoreUnchanged();
    expect((await fetch(`${fe.url}/healthz`)).status).to.equal(200);
  });

  it('a body that stops sending is cut off after the idle timeout with 408 JSON, leaving nothing', async () => {
    const body = form(900);
    const started = Date.now();
    const out = await rawRequest(fe.port, { pieces: [{ data: Buffer.concat([head(body.length), body.subarray(0, 500)]) }], ending: 'wait', timeoutMs: 10_000 });
    const took = Date.now() - started;
    expect(errorOf(out)).to.deep.include({ status: 408, code: 'UPLOAD_TIMEOUT' });
    expect(errorOf(out).headers.connection).to.equal('close');
    expect(took).to.be.within(900, 5000);
    await expectStoreUnchanged();
  });

  it('a slow body that keeps making progress is not cut off', async () => {
    const body = form(300);
    const wire = Buffer.concat([head(body.length), body]);
    const pieces = [0, 1, 2, 3, 4].map((k) => ({ data: wire.subarray(Math.floor((k * wire.length) / 5), Math.floor(((k + 1) * wire.length) / 5)), delayMs: k ? 600 : 0 }));
    const out = await rawRequest(fe.port, { pieces, ending: 'wait', timeoutMs: 10_000 });
    expect(out.kind === 'response' && out.status, JSON.stringify(out)).to.equal(200);
  });

  it('a small refused upload still being sent gets its answer, and the connection stays usable', async () => {
    // The answer (404: no such engine) comes before the body; the body follows it. Closing
    // with unread bytes would reset the connection and the client could lose the answer.
    const body = Buffer.concat([Buffer.from('--B\r\nContent-Disposition: form-data; name="upload"; filename="f"\r\n\r\n'),
      Buffer.alloc(20_000, 120), Buffer.from('\r\n--B--\r\n')]);
    const socket = connect({ host: '127.0.0.1', port: fe.port });
    socket.on('error', () => undefined);
    const text: string[] = [];
    socket.on('data', (d: Buffer) => text.push(d.toString()));
    const closed = new Promise<boolean>((resolve) => socket.on('close', (hadError) => resolve(hadError)));
    socket.write(`POST /nope/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(300);
    expect(text.join('')).to.match(/^HTTP\/1\.1 404 /).and.not.match(/connection: close/i);
    socket.write(body);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(await closed, 'closed without a reset').to.equal(false);
    expect(text.join('').match(/HTTP\/1\.1 /g)?.length, 'a second request on the same connection').to.equal(2);
    expect(text.join('')).to.match(/HTTP\/1\.1 200 /);
  });

  it('beyond maxConcurrent uploads answers 503 JSON with Retry-After at once, without reading the body', async () => {
    // Two uploads in progress, each trickling within the idle timeout.
    const slow = (): Promise<RawOutcome> => {
      const body = form(200);
      const part = (k: number): Buffer => body.subarray(Math.floor((k * body.length) / 8), Math.floor(((k + 1) * body.length) / 8));
      const pieces = Array.from({ length: 8 }, (_, k) => (k ? { data: part(k), delayMs: 300 } : { data: Buffer.concat([head(body.length), part(0)]) }));
      return rawRequest(fe.port, { pieces, ending: 'wait', timeoutMs: 15_000 });
    };
    const busy = [slow(), slow()];
    await sleep(400);
    // The third sends only its head and promises a large body it never sends: answered anyway.
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port: fe.port });
    socket.on('error', () => undefined);
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
      });
      socket.on('close', () => resolve(text));
      socket.write(head(500_000));
    });
    expect(Date.now() - started).to.be.below(1000);
    expect(answer).to.match(/^HTTP\/1\.1 503 /);
    expect(answer).to.match(/\r\nretry-after: \d+\r\n/i);
    expect(answer).to.match(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).to.deep.include({ error: { code: 'TOO_MANY_UPLOADS', message: 'too many uploads at once; try again later' } });
    for (const out of await Promise.all(busy)) expect(out.kind === 'response' && out.status, JSON.stringify(out)).to.equal(200);
    expect((await upload(fe.url, 'small', 'after the burst')).status).to.equal(200);
  });
});

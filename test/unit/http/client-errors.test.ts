import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerClientErrors, HOST_CHECKED_BY_APP, requireHost } from '../../../src/http/client-errors.js';
import { rawBytes } from '../../support/raw-http.js';

describe('http: requests the HTTP parser refuses', () => {
  let server: Server;
  let port: number;
  before(async () => {
    // A POST is answered a little later, as an upload is: its answer is in flight meanwhile.
    server = createServer((req, res) => {
      req.resume();
      if (req.method === 'POST') req.on('end', () => setTimeout(() => res.end('{"late":true}'), 100));
      else res.end('{}');
    });
    answerClientErrors(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const cases: [string, string, string][] = [
    ['a method nobody knows', 'BREW /result/1 HTTP/1.1\r\nHost: x\r\n\r\n', '501 NOT_IMPLEMENTED'],
    ['a malformed header', 'GET / HTTP/1.1\r\nHost x\r\n\r\n', '400 BAD_REQUEST'],
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', '501 NOT_IMPLEMENTED'],
    ['both Content-Length and chunked', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', '400 BAD_REQUEST'],
    ['huge headers', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, '431 HEADERS_TOO_LARGE'],
  ];
  for (const [what, bytes, want] of cases) {
    it(`${what} → ${want} as JSON, then the connection closes`, async () => {
      const answer = await rawBytes(`http://127.0.0.1:${port}`, bytes);
      const [head, body] = answer.split('\r\n\r\n');
      const [status, code] = want.split(' ');
      expect(head).to.match(new RegExp(`^HTTP/1.1 ${status} `));
      expect(head).to.match(/content-type: application\/json/i);
      expect(JSON.parse(body as string).error.code).to.equal(code);
    });
  }

  it('bytes that break behind a whole request do not replace its answer: it goes out, then the connection closes', async () => {
    const answer = await rawBytes(`http://127.0.0.1:${port}`, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nabGARBAGE-AFTER-THE-BODY\r\n\r\n');
    expect(answer).to.match(/^HTTP\/1.1 200 /);
    expect(answer).to.match(/\r\nconnection: close\r\n/i);
    expect(answer.endsWith('{"late":true}')).to.equal(true);
  });

  it('the server keeps serving afterwards', async () => {
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).to.equal(200);
  });
});

describe('http: requireHost', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer({ ...HOST_CHECKED_BY_APP }, requireHost((_req, res) => res.end('{"app":true}')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('an HTTP/1.1 request without Host → 400 BAD_REQUEST as JSON (Node\'s own answer is a bare 400), then the connection closes', async () => {
    const answer = await rawBytes(url, 'GET /healthz HTTP/1.1\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).to.match(/^HTTP\/1.1 400 /).and.match(/content-type: application\/json/i).and.match(/connection: close/i);
    expect(JSON.parse(body as string).error.code).to.equal('BAD_REQUEST');
  });

  it('with Host, or in HTTP/1.0 (which has none), the app answers', async () => {
    for (const bytes of ['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n']) {
      expect((await rawBytes(url, bytes)).split('\r\n\r\n')[1], bytes).to.equal('{"app":true}');
    }
  });
});

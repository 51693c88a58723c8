import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerClientError } from '../../../src/http/client-errors.js';
import { rawRequest } from '../../support/raw-http.js';

describe('http/client-errors: what Node\'s HTTP parser refuses is answered as JSON', () => {
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.on('clientError', answerClientError);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const cases: Array<[string, string, number, string]> = [
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', 400, 'BAD_REQUEST'],
    ['a broken chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'BAD_REQUEST'],
    ['both Content-Length and chunked', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'BAD_REQUEST'],
    ['headers over the size limit', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ];
  for (const [what, wire, status, code] of cases) {
    it(`${what} → ${status} ${code}`, async () => {
      const out = await rawRequest(port, { pieces: [{ data: Buffer.from(wire) }], ending: 'wait', timeoutMs: 5000 });
      if (out.kind !== 'response') throw new Error(JSON.stringify(out));
      expect(out.status).to.equal(status);
      expect(out.headers['content-type']).to.equal('application/json');
      expect(out.headers.connection).to.equal('close');
      expect(JSON.parse(out.body.toString())).to.deep.equal({ error: { code, message: 'the request is not valid HTTP' } });
    });
  }
});

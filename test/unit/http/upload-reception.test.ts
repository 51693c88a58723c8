import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../../src/errors.js';
import { receiveUpload, type ReceivedUpload } from '../../../src/http/upload.js';
import { FileStore } from '../../../src/storage/file-store.js';
import { filePart, multipart } from '../../support/multipart-fuzz.js';
import { rawRequest, type RawRequest } from '../../support/raw-socket.js';

/** What the server saw: the outcome and the temporary files present the moment it settled. */
interface Seen {
  received?: ReceivedUpload;
  code?: string;
  tmpAtSettle: string[];
}

describe('http/upload: receiving one upload (every failure settles once, with no file left)', () => {
  let dir: string;
  let files: FileStore;
  let server: Server;
  let port: number;
  let seen: Promise<Seen>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-upload-'));
    files = new FileStore(join(dir, 'store'));
    await files.init();
    server = createServer((req, res) => {
      seen = receiveUpload(req, files, { field: 'upload', limit: 100, idleMs: 300 }).then(
        async (received) => ({ received, tmpAtSettle: await files.listTmp() }),
        async (err: unknown) => ({ code: err instanceof AppError ? err.code : String(err), tmpAtSettle: await files.listTmp() }),
      );
      void seen.then(async (s) => {
        if (s.received) await files.discard(s.received.written.path);
        res.writeHead(s.code ? 400 : 200, { Connection: 'close' }).end(s.code ?? 'ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const b = 'unit-boundary';
  const send = async (body: Buffer, opts: { length?: number; type?: string; ending?: RawRequest['ending'] } = {}): Promise<Seen> => {
    const head = `POST / HTTP/1.1\r\nHost: x\r\n${opts.type === '' ? '' : `Content-Type: ${opts.type ?? `multipart/form-data; boundary=${b}`}\r\n`}` +
      `Content-Length: ${opts.length ?? body.length}\r\n\r\n`;
    await rawRequest(port, { pieces: [{ data: Buffer.concat([Buffer.from(head), body]) }, { data: Buffer.alloc(0), delayMs: 50 }], ending: opts.ending ?? 'wait', timeoutMs: 5000 });
    return seen;
  };

  it('writes a valid upload to a temporary file with its size and sha256', async () => {
    const content = Buffer.from('hello upload');
    const s = await send(multipart(b, [filePart('upload', content, '../x/evil.bin')]));
    expect(s.code).to.equal(undefined);
    expect(s.received?.written).to.deep.include({ size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
    expect(s.received?.filename).to.equal('evil.bin');
    expect(s.tmpAtSettle).to.have.length(1);
  });

  const refused: Array<[string, () => Promise<Seen>, string]> = [
    ['a second file in the field', () => send(multipart(b, [filePart('upload', Buffer.from('a')), filePart('upload', Buffer.from('b'))])), 'INVALID_UPLOAD'],
    ['a body cut inside the closing boundary', () => { const m = multipart(b, [filePart('upload', Buffer.from('abc'))]); return send(m.subarray(0, m.length - 3)); }, 'INVALID_UPLOAD'],
    ['a body cut inside the file', () => send(multipart(b, [filePart('upload', Buffer.alloc(80))]).subarray(0, 150)), 'INVALID_UPLOAD'],
    ['no file field', () => send(multipart(b, [filePart('other', Buffer.from('a'))])), 'MISSING_UPLOAD'],
    ['no content type', () => send(Buffer.from('x'), { type: '' }), 'INVALID_UPLOAD'],
    ['a multipart type without boundary', () => send(Buffer.from('x'), { type: 'multipart/form-data' }), 'INVALID_UPLOAD'],
    ['a file over the limit', () => send(multipart(b, [filePart('upload', Buffer.alloc(101))])), 'UPLOAD_TOO_LARGE'],
    ['a body that stops sending', () => send(multipart(b, [filePart('upload', Buffer.alloc(50))]), { length: 1000 }), 'UPLOAD_TIMEOUT'],
    ['a client that hangs up mid-body', () => send(multipart(b, [filePart('upload', Buffer.alloc(50))]), { length: 1000, ending: 'abort' }), 'UPLOAD_ABORTED'],
  ];
  for (const [what, run, code] of refused) {
    it(`${what} → ${code}, no temporary file left when it settles`, async () => {
      const s = await run();
      expect(s.code).to.equal(code);
      expect(s.tmpAtSettle).to.deep.equal([]);
    });
  }
});

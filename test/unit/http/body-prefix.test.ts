import { expect } from 'chai';
import { PassThrough, Readable } from 'node:stream';
import { readPrefix } from '../../../src/http/body-prefix.js';

async function rest(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('http: reading the report that opens a result body', () => {
  it('takes exactly n bytes across chunk boundaries and leaves the rest in the stream', async () => {
    for (const split of [1, 3, 7, 100]) {
      const text = '{"report":true}the result bytes';
      const chunks = text.match(new RegExp(`[\\s\\S]{1,${split}}`, 'g')) as string[];
      const stream = Readable.from(chunks.map((c) => Buffer.from(c)), { objectMode: false });
      const head = await readPrefix(stream, 15);
      expect([split, head.toString(), await rest(stream)]).to.deep.equal([split, '{"report":true}', 'the result bytes']);
    }
  });

  it('works when the bytes arrive later, one write at a time', async () => {
    const stream = new PassThrough();
    const pending = readPrefix(stream, 4);
    setTimeout(() => stream.write('ab'), 5);
    setTimeout(() => stream.end('cdef'), 10);
    expect((await pending).toString()).to.equal('abcd');
    expect(await rest(stream)).to.equal('ef');
  });

  it('refuses a body that ends early, and passes on a stream error', async () => {
    const err = await readPrefix(Readable.from([Buffer.from('abc')]), 10).catch((e: Error) => e);
    expect((err as { code?: string }).code).to.equal('INVALID_REQUEST');
    const empty = await readPrefix(Readable.from([]), 1).catch((e: Error) => e);
    expect((empty as { code?: string }).code).to.equal('INVALID_REQUEST');
    const broken = new PassThrough();
    const pending = readPrefix(broken, 5);
    broken.destroy(new Error('socket hang up'));
    expect(((await pending.catch((e: Error) => e)) as Error).message).to.equal('socket hang up');
    expect((await readPrefix(Readable.from([Buffer.from('x')]), 0)).length).to.equal(0);
  });
});

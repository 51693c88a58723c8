import { expect } from 'chai';
import { LogTail } from '../../../src/menage/log-tail.js';

describe('menage/log-tail', () => {
  it('keeps everything under the limit, as written', () => {
    const t = new LogTail(100);
    t.push(Buffer.from('hello '));
    t.push(Buffer.from('world'));
    expect(t.text()).to.equal('hello world');
  });

  it('keeps only the last `limit` bytes and says how much was dropped', () => {
    const t = new LogTail(10);
    for (let i = 0; i < 100; i++) t.push(Buffer.from(`${i % 10}`));
    expect(t.text()).to.equal('[90 earlier bytes of output dropped]\n0123456789');
  });

  it('stays bounded however much is written (100 MiB through a 64 KiB tail)', () => {
    const t = new LogTail(64 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 'y');
    for (let i = 0; i < 1600; i++) t.push(chunk);
    t.push(Buffer.from('\nlast line\n'));
    const text = t.text();
    expect(text).to.match(/^\[\d+ earlier bytes of output dropped\]\n/);
    expect(text.endsWith('last line\n')).to.equal(true);
    expect(Buffer.byteLength(text)).to.be.at.most(64 * 1024 + 64);
  });

  it('interleaves its writable sinks (stdout and stderr) into one tail', async () => {
    const t = new LogTail(100);
    const out = t.writable();
    const err = t.writable();
    await new Promise<void>((r) => out.write('a', () => r()));
    await new Promise<void>((r) => err.write('b', () => r()));
    await new Promise<void>((r) => out.write('c', () => r()));
    expect(t.text()).to.equal('abc');
  });
});

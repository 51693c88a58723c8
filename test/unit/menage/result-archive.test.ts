import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { checkPathStat, parsePathStat, readResultArchive, ResultRefused } from '../../../src/menage/result-archive.js';

type Entry = Parameters<ReturnType<typeof pack>['entry']>[0] & { body?: Buffer };

/** A hand-made tar stream of the given entries. */
function tar(entries: Entry[]): Readable {
  const p = pack();
  for (const { body, ...header } of entries) {
    if (body) p.entry(header, body);
    else p.entry(header);
  }
  p.finalize();
  return Readable.from(p);
}

/** Runs readResultArchive; returns what was delivered and whether its stream ended cleanly. */
async function read(archive: Readable, limit = 1024): Promise<{ ok: boolean; reason?: string; bytes?: Buffer; size?: number; bodyError?: string }> {
  const got: { bytes?: Buffer; size?: number; bodyError?: string } = {};
  let delivering: Promise<void> | undefined;
  try {
    await readResultArchive(archive, limit, (body, size) => (delivering = (async () => {
      got.size = size;
      const chunks: Buffer[] = [];
      try {
        for await (const c of body) chunks.push(c as Buffer);
        got.bytes = Buffer.concat(chunks);
      } catch (err) {
        got.bodyError = (err as Error).message;
        throw err;
      }
    })()));
    return { ok: true, ...got };
  } catch (err) {
    expect(err).to.be.instanceOf(ResultRefused);
    await Promise.allSettled([delivering]);
    return { ok: false, reason: (err as Error).message, ...got };
  }
}

describe('menage/result-archive', () => {
  it('delivers one regular file named result, byte for byte', async () => {
    const body = Buffer.from('the analysis\n');
    const r = await read(tar([{ name: 'result', type: 'file', body }]));
    expect(r).to.deep.include({ ok: true, size: body.length });
    expect(r.bytes?.equals(body)).to.equal(true);
  });

  it('delivers an empty result file as an empty result', async () => {
    const r = await read(tar([{ name: 'result', type: 'file', body: Buffer.alloc(0) }]));
    expect(r.ok).to.equal(true);
    expect(r.bytes?.length).to.equal(0);
  });

  const refused: Array<[string, Entry[], RegExp]> = [
    ['a symlink to /etc/passwd', [{ name: 'result', type: 'symlink', linkname: '/etc/passwd' }], /^output not a regular file: result is a symbolic link to "\/etc\/passwd"$/],
    ['a symlink to a host path', [{ name: 'result', type: 'symlink', linkname: '../../../../var/lib/docker' }], /^output not a regular file: result is a symbolic link/],
    ['a hard link', [{ name: 'result', type: 'link', linkname: 'sample' }], /^output not a regular file: result is a hard link to "sample"$/],
    ['a directory', [{ name: 'result', type: 'directory' }, { name: 'result/x', type: 'file', body: Buffer.from('x') }], /^output not a regular file: result is a directory$/],
    ['a character device', [{ name: 'result', type: 'character-device', devmajor: 1, devminor: 3 }], /^output not a regular file: result is a character device$/],
    ['a block device', [{ name: 'result', type: 'block-device', devmajor: 8, devminor: 0 }], /^output not a regular file: result is a block device$/],
    ['a FIFO', [{ name: 'result', type: 'fifo' }], /^output not a regular file: result is a FIFO$/],
    ['named ../result', [{ name: '../result', type: 'file', body: Buffer.from('x') }], /^output not a regular file: the archive holds "\.\.\/result", not result$/],
    ['named /result', [{ name: '/result', type: 'file', body: Buffer.from('x') }], /^output not a regular file: the archive holds "\/result"/],
    ['named result/x', [{ name: 'result/x', type: 'file', body: Buffer.from('x') }], /^output not a regular file: the archive holds "result\/x"/],
    ['named ./result', [{ name: './result', type: 'file', body: Buffer.from('x') }], /^output not a regular file: the archive holds "\.\/result"/],
    ['named otherwise', [{ name: 'passwd', type: 'file', body: Buffer.from('x') }], /^output not a regular file: the archive holds "passwd"/],
    ['larger than the limit', [{ name: 'result', type: 'file', body: Buffer.alloc(1025) }], /^result too large: 1025 bytes, the limit is 1024$/],
    ['empty (no entry at all)', [], /^no result file$/],
  ];
  for (const [what, entries, reason] of refused) {
    it(`refuses a result that is ${what}`, async () => {
      const r = await read(tar(entries));
      expect(r.ok).to.equal(false);
      expect(r.reason).to.match(reason);
      expect(r.bytes, 'nothing may be delivered').to.equal(undefined);
    });
  }

  it('accepts a file of exactly the limit', async () => {
    const r = await read(tar([{ name: 'result', type: 'file', body: Buffer.alloc(1024, 1) }]));
    expect(r.ok).to.equal(true);
    expect(r.bytes?.length).to.equal(1024);
  });

  it('refuses two entries, and the delivered stream never ends cleanly', async () => {
    const r = await read(tar([{ name: 'result', type: 'file', body: Buffer.from('first') }, { name: 'result', type: 'file', body: Buffer.from('second') }]));
    expect(r.ok).to.equal(false);
    expect(r.reason).to.equal('output not a regular file: the archive holds more than one entry');
    expect(r.bytes, 'the body must not end as a complete result').to.equal(undefined);
    expect(r.bodyError).to.equal(r.reason);
  });

  it('refuses an archive that is not a tar stream', async () => {
    const r = await read(Readable.from([Buffer.alloc(2048, 0x41)]));
    expect(r.ok).to.equal(false);
    expect(r.reason).to.match(/^output not a regular file|^no result file/);
  });

  it('stream-reads a 200 MB result with flat memory', async function () {
    this.timeout(30_000);
    const size = 200 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const p = pack();
    const entry = p.entry({ name: 'result', type: 'file', size }, () => p.finalize());
    void (async () => {
      for (let sent = 0; sent < size; sent += chunk.length) if (!entry.write(chunk)) await new Promise<void>((r) => entry.once('drain', () => r()));
      (entry as unknown as { end(): void }).end();
    })();
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const hash = createHash('sha256');
    let n = 0;
    await readResultArchive(Readable.from(p), size, async (body) => {
      for await (const c of body) {
        n += (c as Buffer).length;
        hash.update(c as Buffer);
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    });
    expect(n).to.equal(size);
    expect(peak - before, `RSS grew by ${((peak - before) / 2 ** 20).toFixed(1)} MB`).to.be.below(64 * 1024 * 1024);
  });
});

describe('menage/result-archive: Docker path stat', () => {
  const stat = (mode: number, size = 10, linkTarget = '') => ({ name: 'result', size, mode, linkTarget });
  const table: Array<[string, number, string | undefined]> = [
    ['a regular file', 0o644, undefined],
    ['a directory', 2 ** 31 + 0o755, 'output not a regular file: result is a directory'],
    ['a FIFO', 2 ** 25 + 0o644, 'output not a regular file: result is a FIFO'],
    ['a character device', 2 ** 26 + 2 ** 21 + 0o644, 'output not a regular file: result is a device'],
    ['a socket', 2 ** 24 + 0o755, 'output not a regular file: result is a socket'],
  ];
  for (const [what, mode, reason] of table) {
    it(`${reason ? 'refuses' : 'accepts'} ${what}`, () => expect(checkPathStat(stat(mode), 100)).to.equal(reason));
  }
  it('names a symlink target, quoted', () => {
    expect(checkPathStat(stat(2 ** 27 + 0o777, 11, '/etc/passwd'), 100)).to.equal('output not a regular file: result is a symbolic link to "/etc/passwd"');
  });
  it('refuses oversize before reading a byte', () => {
    expect(checkPathStat(stat(0o644, 101), 100)).to.equal('result too large: 101 bytes, the limit is 100');
  });
  it('decodes the base64 JSON header and ignores a bad one', () => {
    const header = Buffer.from(JSON.stringify({ name: 'result', size: 5, mode: 420, mtime: 'x', linkTarget: '' })).toString('base64');
    expect(parsePathStat(header)).to.deep.equal({ name: 'result', size: 5, mode: 420, linkTarget: '' });
    expect(parsePathStat('!!!')).to.equal(undefined);
    expect(parsePathStat(undefined)).to.equal(undefined);
  });
});

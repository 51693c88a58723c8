import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FileStore, LimitExceeded } from '../../../src/storage/file-store.js';

describe('storage/file-store: temporary files', () => {
  let dir: string;
  let files: FileStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-store-'));
    files = new FileStore(dir);
    await files.init();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sweeps temporary files nobody wrote to for longer than the age, and keeps fresh ones', async () => {
    const old = files.tmpPath();
    const fresh = files.tmpPath();
    await writeFile(old, 'abandoned');
    await writeFile(fresh, 'being written');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(old, hourAgo, hourAgo);
    expect(await files.sweepTmp(600_000)).to.equal(1);
    expect(await files.listTmp()).to.deep.equal([fresh.slice(fresh.lastIndexOf('/') + 1)]);
  });

  it('sweeps files of dead writers on this host at once', async () => {
    // A pid far above pid_max on Linux: that writer cannot be running.
    const name = files.tmpPath().split('/').pop()!.replace(/\.\d+\./, '.99999999.');
    await writeFile(join(dir, '.tmp', name), 'x');
    expect(await files.sweepTmp(3600_000)).to.equal(1);
    expect(await readdir(join(dir, '.tmp'))).to.deep.equal([]);
  });

  it('a write whose source is destroyed before it starts rejects and leaves no file (it used to hang)', async () => {
    const source = new Readable({ read() {} });
    source.on('error', () => undefined);
    source.push('data');
    source.push(null);
    const writing = files.write(files.tmpPath(), source, 100);
    source.destroy();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise((resolve) => {
      timer = setTimeout(() => resolve('hung'), 2000);
    });
    const outcome = await Promise.race([writing.then(() => 'resolved', () => 'rejected'), hung]);
    clearTimeout(timer);
    expect(outcome).to.equal('rejected');
    expect(await files.listTmp()).to.deep.equal([]);
  });

  it('a write over its limit rejects with LimitExceeded and leaves no file', async () => {
    const err = await files.write(files.tmpPath(), Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), 100).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(LimitExceeded);
    expect(await files.listTmp()).to.deep.equal([]);
  });

  it('take moves a written upload into a job folder as its input, leaves no temporary file and marks it moved', async () => {
    const written = await files.write(files.tmpPath(), Readable.from([Buffer.from('sample')]), 100);
    expect(written.moved).to.equal(undefined);
    await files.take(written, '42', 'input');
    expect(written.moved).to.equal(true);
    expect(await files.listTmp()).to.deep.equal([]);
    expect(await readFile(files.path('42', 'input'), 'utf8')).to.equal('sample');
  });

  it('bodies of several sizes, in two chunks, are stored with their size, sha256 and first bytes', async () => {
    for (const size of [10, 64 * 1024, 64 * 1024 + 1, 300 * 1024]) {
      const data = Buffer.alloc(size, 'menagerie ');
      const chunks = [data.subarray(0, Math.floor(size / 3)), data.subarray(Math.floor(size / 3))];
      const written = await files.write(files.tmpPath(), Readable.from(chunks), 1 << 20);
      expect(written.size).to.equal(size);
      expect(written.sha256).to.equal(createHash('sha256').update(data).digest('hex'));
      expect(written.head.equals(data.subarray(0, 80))).to.equal(true);
      expect((await readFile(written.path)).equals(data)).to.equal(true);
      await files.discard(written.path);
    }
    expect(await files.listTmp()).to.deep.equal([]);
  });

  it('a body that fails before its end leaves no file', async () => {
    const source = new Readable({ read() {} });
    source.on('error', () => undefined); // as the upload's own listener does
    source.push('partial');
    const writing = files.write(files.tmpPath(), source, 100);
    setImmediate(() => source.destroy(new Error('client went away')));
    const err = await writing.catch((e: unknown) => e);
    expect((err as Error).message).to.equal('client went away');
    expect(await files.listTmp()).to.deep.equal([]);
  });
});

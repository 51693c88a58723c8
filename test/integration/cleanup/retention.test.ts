import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runRetention } from '../../../src/cleanup/retention.js';
import { FileStore } from '../../../src/storage/file-store.js';
import { startStack, upload, type Stack } from '../../support/stack.js';
import { testEngine } from '../../support/services.js';
import { silentLogger } from '../../../src/log/logger.js';

describe('integration: retention cleanup', function () {
  this.timeout(60_000);
  let stack: Stack;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${stack.env.config.internalToken}` });

  /** Runs one job to Success through the internal API, as a worker would. */
  const finishedJob = async (): Promise<string> => {
    const id = (await upload(stack.url, 'copy', 'x')).json.jobid as string;
    const started = (await (await fetch(`${stack.internalUrl}/internal/jobs/${id}/start`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ worker: 't' }),
    })).json()) as { lease: string };
    await fetch(`${stack.internalUrl}/internal/jobs/${id}/result`, { method: 'PUT', headers: { ...auth(), 'x-menagerie-lease': started.lease, 'x-menagerie-report-length': '0' }, body: 'r' });
    return id;
  };
  const sql = async (q: string, params: unknown[]): Promise<void> => {
    const c = await mysql.createConnection({ host: '127.0.0.1', user: stack.env.db.user, password: stack.env.db.password, database: stack.env.db.name });
    await c.query(q, params);
    await c.end();
  };

  before(async () => {
    stack = await startStack([testEngine('copy')], { menage: false });
  });
  after(async () => {
    await stack?.close();
  });

  it('removes finished jobs past retention (row, events, files) and folders without a row; keeps the rest', async () => {
    const old = await finishedJob();
    const recent = await finishedJob();
    const waiting = (await upload(stack.url, 'copy', 'y')).json.jobid as string;
    await sql('UPDATE jobs SET finished_at = NOW(3) - INTERVAL 40 DAY, created_at = NOW(3) - INTERVAL 40 DAY WHERE id = ?', [old]);
    await sql('UPDATE jobs SET created_at = NOW(3) - INTERVAL 40 DAY WHERE id = ?', [waiting]);
    const root = stack.env.config.store.dir;
    const stray = join(root, '999999');
    const young = join(root, '999998');
    for (const dir of [stray, young]) {
      await mkdir(dir);
      await writeFile(join(dir, 'result'), 'orphan');
    }
    const longAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(stray, longAgo, longAgo);
    const files = new FileStore(root);
    const dry = await runRetention({ store: stack.frontend.store, files, days: 30, dryRun: true, log: silentLogger() });
    expect(dry).to.deep.equal({ jobs: 1, strayFolders: 1 });
    expect(existsSync(join(root, old))).to.equal(true);

    const report = await runRetention({ store: stack.frontend.store, files, days: 30, log: silentLogger() });
    expect(report).to.deep.equal({ jobs: 1, strayFolders: 1 });
    expect(await stack.frontend.store.get(old)).to.equal(undefined);
    expect(await stack.frontend.store.events(old)).to.deep.equal([]);
    expect(existsSync(join(root, old))).to.equal(false);
    expect((await fetch(`${stack.url}/result/${old}`)).status).to.equal(404);
    expect(existsSync(stray)).to.equal(false);
    expect(existsSync(young)).to.equal(true);
    expect(await (await fetch(`${stack.url}/link/${recent}`)).text()).to.equal('r');
    expect((await stack.frontend.store.get(waiting))?.status).to.equal('Received');
    expect(existsSync(join(root, waiting, 'input'))).to.equal(true);
  });
});

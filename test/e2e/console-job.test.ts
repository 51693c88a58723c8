import { expect } from 'chai';
import Docker from 'dockerode';
import { screenshot } from '../support/browser.js';
import { startConsoleFixture, type ConsoleFixture } from '../support/console-fixture.js';
import { waitDone, waitNoContainers } from '../support/stack.js';
import { storedZip } from '../support/zip.js';

const docker = new Docker();

describe('e2e: the web console\'s job page in Chromium (result viewer, failure, cancel, retry)', function () {
  this.timeout(180_000);
  let f: ConsoleFixture;

  before(async () => {
    f = await startConsoleFixture();
  });
  after(async () => {
    await f?.close();
  });

  it('result viewer: text escaped, JSON collapsible, binary as hex, zip as an entry listing', async () => {
    const html = '<b id="bold">not bold</b><script>alert(2)</script>';
    const json = JSON.stringify({ verdict: 'clean', nested: { deeper: { deepest: [1, 2, 3] } }, list: ['a', 'b'] });
    const binary = Buffer.from([0, 1, 2, 3, 255, 254, 65, 66, 0, 0x1b, 10]);
    const zip = storedZip([{ name: 'classes.dex', data: Buffer.from('dex\n035\0') }, { name: 'res/<i>x</i>.xml', data: Buffer.from('<xml/>') }]);
    const ids = await Promise.all([f.submit('copy', html), f.submit('copy', json), f.submit('copy', binary), f.submit('copy', zip)]);
    for (const id of ids) await waitDone(f.stack.url, id, 60_000, f.admin);
    await f.onPage('result-viewer', async (page) => {
      const open = async (id: string, kind: string): Promise<void> => {
        await page.goto(`${f.stack.url}/console/#/jobs/${id}`);
        await page.locator(`.viewer[data-kind=${kind}]`).waitFor();
      };
      await open(ids[0] as string, 'text');
      expect(await page.locator('.viewer pre').textContent()).to.equal(html);
      expect(await page.locator('#bold').count()).to.equal(0);
      await open(ids[1] as string, 'json');
      const nodes = page.locator('.viewer details.json-node');
      expect(await nodes.count(), 'root, nested, deeper, deepest, list').to.equal(5);
      expect(await nodes.nth(0).getAttribute('open')).to.equal('');
      expect(await page.locator('.viewer details.json-node', { hasText: 'deepest' }).last().getAttribute('open')).to.equal(null);
      await page.locator('.viewer summary', { hasText: '"nested"' }).click();
      expect(await nodes.nth(1).getAttribute('open')).to.equal(null);
      expect(await page.locator('.viewer').textContent()).to.contain('"verdict": "clean"');
      await open(ids[2] as string, 'binary');
      expect(await page.locator('.viewer pre.hex').textContent()).to.equal(`00000000  ${'00 01 02 03 ff fe 41 42 00 1b 0a'.padEnd(47)}  ......AB...`);
      await open(ids[3] as string, 'zip');
      expect(await page.locator('.viewer table.zip caption').textContent()).to.equal('Zip archive: 2 entries');
      expect(await page.locator('.viewer table.zip td.filename').allTextContents()).to.deep.equal(['classes.dex', 'res/<i>x</i>.xml']);
      expect(await page.locator('.viewer i').count()).to.equal(0);
      const download = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Download result' }).click();
      expect((await download).suggestedFilename()).to.equal(`result-${ids[3]}`);
    });
  });

  it('shows a failed job\'s reason and its engine log', async () => {
    const id = await f.submit('fail', 'anything');
    await f.onPage('not-found', async (page) => {
      await page.goto(`${f.stack.url}/console/#/jobs/${id}`);
      await page.locator('#job-status', { hasText: 'Fail' }).waitFor({ timeout: 60_000 });
      expect(await page.locator('.reason').textContent()).to.equal('Failed: exit code 7');
      await page.locator('section[aria-label="Engine log"] pre').waitFor();
      expect(await page.locator('section[aria-label="Engine log"] pre').textContent()).to.contain('engine error: cannot parse sample');
      await screenshot(page, 'failed-job');
      // Retry: a new job with the same input and engine, linked to the old one.
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.waitForURL((u) => /#\/jobs\/[0-9]+$/.test(u.hash) && !u.hash.endsWith(`/${id}`));
      await page.locator('.facts a', { hasText: `job ${id}` }).waitFor();
      await page.locator('#job-status', { hasText: 'Fail' }).waitFor({ timeout: 60_000 });
      // Clear error states: no such job, no such page.
      await page.goto(`${f.stack.url}/console/#/jobs/99999999`);
      await page.getByRole('alert').filter({ hasText: 'JOB_NOT_FOUND, HTTP 404' }).waitFor();
      await page.goto(`${f.stack.url}/console/#/nowhere`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
    });
  });

  it('cancels a running job from its page (after an in-page confirmation)', async () => {
    const id = await f.submit('slow', 'never finishes');
    await f.onPage('cancel', async (page) => {
      // The page follows the job with held reads (?wait=), not only with timed polls.
      const reads: string[] = [];
      page.on('request', (r) => {
        const url = new URL(r.url());
        if (url.pathname === `/api/v1/jobs/${id}`) reads.push(url.search);
      });
      await page.goto(`${f.stack.url}/console/#/jobs/${id}`);
      await page.locator('#job-status', { hasText: 'Running' }).waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.getByText(`Cancel job ${id}? A cancelled job cannot be resumed.`).waitFor();
      await page.waitForTimeout(2500); // a status poll passes: the confirmation stays
      await page.getByRole('button', { name: 'Yes, cancel it' }).click();
      const before = [...reads];
      expect(before[0], 'the first read is plain').to.equal('');
      expect(before.slice(1).length, 'held reads while it runs').to.be.at.least(1);
      expect(before.slice(1).every((q) => q === '?wait=2'), before.join(' ')).to.equal(true);
      await page.locator('#job-status', { hasText: 'Fail' }).waitFor({ timeout: 30_000 });
      expect(await page.locator('.reason').textContent()).to.equal('Failed: cancelled');
      await page.getByRole('button', { name: 'Retry' }).waitFor();
    });
    expect(await waitNoContainers(docker, f.stack.node), 'the container is gone').to.deep.equal([]);
  });
});

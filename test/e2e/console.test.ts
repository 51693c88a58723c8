import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { screenshot } from '../support/browser.js';
import { HOSTILE, startConsoleFixture, type ConsoleFixture } from '../support/console-fixture.js';
import { waitDone } from '../support/stack.js';

describe('e2e: the web console in Chromium (sign-in, lists, submit, dashboard, policy)', function () {
  this.timeout(180_000);
  let f: ConsoleFixture;

  before(async () => {
    f = await startConsoleFixture();
  });
  after(async () => {
    await f?.close();
  });

  it('signs in with a token (a wrong one is refused) kept in sessionStorage only', async () => {
    await f.onPage('sign-in', async (page) => {
      await page.goto(`${f.stack.url}/console/`);
      await page.getByLabel('API token').fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('That token was refused').waitFor();
      await page.getByLabel('API token').fill(f.admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await page.locator('table.matrix tbody tr').first().waitFor();
      expect(await page.locator('table.matrix tbody th').allTextContents()).to.deep.equal(['copy', 'fail', 'slow', 'tiny']);
      expect(await page.evaluate(() => [sessionStorage.getItem('menagerie.token'), localStorage.length])).to.deep.equal([f.admin, 0]);
    }, { signIn: false });
  });

  it('submits a file through the page and watches it reach Success', async () => {
    await f.onPage('submit', async (page) => {
      await page.getByRole('link', { name: 'Submit', exact: true }).click();
      await page.locator('input[name=engine][value=copy]').check();
      await page.locator('#file').setInputFiles({ name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from the browser\n') });
      await page.getByRole('button', { name: 'Submit' }).click();
      await page.waitForURL(/#\/jobs\/[0-9]+$/);
      await page.locator('#job-status', { hasText: 'Success' }).waitFor({ timeout: 60_000 });
      expect(await page.locator('.viewer[data-kind=text] pre').textContent()).to.equal('hello from the browser\n');
      expect(await page.locator('.facts').first().textContent()).to.contain('hello.txt').and.contain('copy');
    });
  });

  it('filters and pages the list, stable while new jobs arrive, with an "N new jobs — show" notice', async () => {
    const first: string[] = [];
    for (let i = 0; i < 27; i++) first.push(await f.submit('tiny', `job ${i}`, `page-${i}.txt`));
    await f.onPage('jobs-list', async (page) => {
      await page.getByRole('link', { name: 'Jobs', exact: true }).click();
      await page.locator('#f-engine').selectOption('tiny');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/engine=tiny/);
      const rowIds = (): Promise<string[]> => page.locator('table.jobs tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.job ?? ''));
      await page.locator('table.jobs').waitFor();
      const page1 = await rowIds();
      expect(page1).to.deep.equal([...first].reverse().slice(0, 25));
      // New jobs arrive: the page does not move, a notice tells how many.
      await f.submit('tiny', 'late 1', 'late-1.txt');
      await f.submit('tiny', 'late 2', 'late-2.txt');
      await page.getByText('2 new jobs —').waitFor({ timeout: 15_000 });
      expect(await rowIds()).to.deep.equal(page1);
      await page.getByRole('link', { name: 'Next page →' }).click();
      await page.waitForURL(/(cursor|page)=/);
      await page.locator(`table.jobs tbody tr[data-job="${first[1]}"]`).waitFor();
      expect(await rowIds()).to.deep.equal([first[1], first[0]]);
      await page.getByText('2 new jobs —').waitFor({ timeout: 15_000 });
      await page.getByRole('link', { name: 'show' }).click();
      await page.locator('table.jobs tbody tr').first().waitFor();
      await page.waitForFunction(() => document.querySelectorAll('table.jobs tbody tr').length === 25 && !document.querySelector('.new-jobs'));
      expect((await rowIds()).slice(0, 3)).to.deep.equal([String(Number(first[26]) + 2), String(Number(first[26]) + 1), first[26]]);
      // A status filter from the form, kept in the URL.
      await page.locator('input[name=status][value=Fail]').check();
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/status=Fail/);
      await page.getByText('No job matches these filters.').waitFor();
    });
  });

  it('a job named <img src=x onerror=alert(1)>.apk stays inert (no dialog, no element)', async () => {
    const id = await f.submit('copy', '<img src=x onerror=alert(3)>', HOSTILE);
    await waitDone(f.stack.url, id, 60_000, f.admin);
    await f.onPage('hostile-name', async (page, watch) => {
      await page.goto(`${f.stack.url}/console/#/jobs?engine=copy`);
      await page.locator(`table.jobs tbody tr[data-job="${id}"] td.filename`, { hasText: HOSTILE }).waitFor();
      await page.goto(`${f.stack.url}/console/#/jobs/${id}`);
      await page.locator('.viewer[data-kind=text]').waitFor();
      expect(await page.locator('.facts .filename').textContent()).to.equal(HOSTILE);
      expect(await page.locator('img').count()).to.equal(0);
      await page.waitForTimeout(500);
      expect(watch.dialogs).to.deep.equal([]);
    });
  });

  it('says when the server is unreachable, and recovers by itself', async () => {
    await f.onPage('unreachable', async (page) => {
      await page.locator('table.matrix').waitFor();
      await page.route('**/monitor/**', (route) => route.abort('connectionrefused'));
      const banner = page.getByRole('alert').filter({ hasText: 'The server cannot be reached' });
      await banner.waitFor({ timeout: 15_000 });
      expect(await page.locator('table.matrix').count(), 'the last data stays').to.equal(1);
      await screenshot(page, 'unreachable-banner');
      await page.unroute('**/monitor/**');
      await banner.waitFor({ state: 'hidden', timeout: 15_000 });
    });
  });

  it('engines and policy pages; the policy page shows the enforcer\'s detections as text', async () => {
    await f.onPage('policy', async (page) => {
      await page.getByRole('link', { name: 'Engines', exact: true }).click();
      await page.getByRole('heading', { name: 'Engines' }).waitFor();
      await page.getByText('copy').first().waitFor();
      await screenshot(page, 'engines');
      await page.getByRole('link', { name: 'Policy', exact: true }).click();
      await page.getByRole('heading', { name: 'Violations by rule' }).waitFor();
      expect(await page.locator('main').textContent()).to.contain('Mode: kill').and.contain(HOSTILE).and.contain('<script>alert(4)</script>');
      expect(await page.locator('main img, main script').count()).to.equal(0);
    });
  });

  it('works by keyboard and on a narrow screen', async () => {
    await f.onPage('keyboard-mobile', async (page) => {
      await page.setViewportSize({ width: 390, height: 800 });
      await page.goto(`${f.stack.url}/console/`);
      await page.getByLabel('API token').waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).to.equal('token');
      await page.keyboard.type(f.admin);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await page.locator('table.matrix').waitFor();
      // Each page moves the focus to its heading; the next Tab stop is the first count link.
      expect(await page.evaluate(() => document.activeElement?.textContent)).to.equal('Dashboard');
      await page.keyboard.press('Tab');
      const label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
      expect(label).to.match(/^[0-9]+ (Received|Running|Success|Fail) jobs of [a-z]+$/);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Jobs' }).waitFor();
      await page.waitForURL(/#\/jobs\?engine=/);
      await page.locator('table.jobs').waitFor();
      await page.waitForFunction(() => document.activeElement?.textContent === 'Jobs');
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no page-wide horizontal scroll').to.equal(true);
    }, { signIn: false });
  });

  it('shows each engine\'s size limit and refuses a file over it before uploading; several engines at once', async () => {
    await f.onPage('submit-limits', async (page) => {
      const uploads: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST') uploads.push(new URL(r.url()).pathname);
      });
      await page.getByRole('link', { name: 'Submit', exact: true }).click();
      await page.locator('.engine-choice', { hasText: 'tiny' }).getByText('(up to 64 B)').waitFor();
      await page.locator('input[name=engine][value=tiny]').check();
      await page.locator('input[name=engine][value=copy]').check();
      await page.locator('#file').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(100, 7) });
      await page.getByRole('button', { name: 'Submit' }).click();
      await page.getByText('is larger than the limit of tiny (64 B). Nothing was uploaded.').waitFor();
      expect(uploads, 'nothing was sent').to.deep.equal([]);
      await page.locator('#file').setInputFiles({ name: 'small.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10, 7) });
      await page.getByRole('button', { name: 'Submit' }).click();
      await page.locator('#submit-status li').nth(1).waitFor();
      const listed = await page.locator('#submit-status li').allTextContents();
      expect(listed.map((t) => t.replace(/[0-9]+/, 'N'))).to.have.members(['job N (copy)', 'job N (tiny)']);
      await page.locator('#submit-status a').first().click();
      await page.locator('#job-status', { hasText: 'Success' }).waitFor({ timeout: 60_000 });
    });
  });

  it('filters the list by file name and sha256, from the URL', async () => {
    const body = `unique ${Date.now()}`;
    const id = await f.submit('copy', body, 'needle.txt');
    await f.submit('copy', 'other', 'haystack.txt');
    const sha = createHash('sha256').update(body).digest('hex');
    await f.onPage('jobs-filters', async (page) => {
      await page.goto(`${f.stack.url}/console/#/jobs?filename=needle.txt`);
      await page.locator(`table.jobs tbody tr[data-job="${id}"]`).waitFor();
      expect(await page.locator('table.jobs tbody tr').count()).to.equal(1);
      expect(await page.locator('#f-filename').inputValue()).to.equal('needle.txt');
      await page.locator('#f-filename').fill('');
      await page.locator('#f-sha256').fill(sha.toUpperCase());
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(new RegExp(`sha256=${sha}`));
      await page.locator(`table.jobs tbody tr[data-job="${id}"]`).waitFor();
      expect(await page.locator('table.jobs tbody tr').count()).to.equal(1);
      await page.goto(`${f.stack.url}/console/#/`);
      await page.locator('table.matrix tbody td.num').first().waitFor();
      const depth = await page.locator('table.matrix tbody tr', { hasText: 'copy' }).locator('td').nth(4).textContent();
      expect(depth, 'queue depth from API v1').to.match(/^[0-9]+$/);
    });
  });
});

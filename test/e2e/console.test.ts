import { expect } from 'chai';
import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { TokenStore } from '../../src/auth/token-store.js';
import { createToken } from '../../src/auth/token-admin.js';
import { databaseOptions } from '../../src/frontend.js';
import { launchBrowser, openPage, screenshot, signIn, type PageWatch } from '../support/browser.js';
import { detection, serveEnforcerApi } from '../support/enforcer-api.js';
import { testEngine } from '../support/services.js';
import { storedZip } from '../support/zip.js';
import { startStack, upload, waitDone, waitNoContainers, type Stack } from '../support/stack.js';

const KEY = 'console-browser-test-key-0123456789abcdef';
const HOSTILE = '<img src=x onerror=alert(1)>.apk';
const docker = new Docker();

describe('e2e: the web console in Chromium', function () {
  this.timeout(180_000);
  let stack: Stack;
  let browser: Browser;
  let admin: string;
  let enforcer: Awaited<ReturnType<typeof serveEnforcerApi>>;
  const enforcerToken = 'enforcer-api-token-0123456789';

  before(async () => {
    enforcer = await serveEnforcerApi([detection('menagerie-job-9', 'memory-limit', 'memory above 64m'),
      detection(HOSTILE, 'no-privileged', '<script>alert(4)</script>')], enforcerToken);
    stack = await startStack([
      testEngine('copy', { workers: 2 }),
      testEngine('fail', { cmd: ['/engine/fail', '7'] }),
      testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 120, workers: 1 }),
      testEngine('tiny', { sizelimit: 64 }),
    ], { overrides: { auth: { mode: 'tokens', key: KEY, uploadsPerMinute: 6000, uploadBurst: 1000 },
      console: { enforcerUrl: enforcer.url, enforcerToken } } });
    const tokens = new TokenStore(databaseOptions(stack.env.config));
    try {
      admin = (await createToken(tokens, KEY, { name: 'analyst', role: 'admin' })).token;
    } finally {
      await tokens.close();
    }
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await enforcer?.close();
  });

  /** Runs a test on a signed-in page, saves its screenshot, and checks the page stayed clean. */
  async function onPage(name: string, fn: (page: Page, watch: PageWatch) => Promise<void>, opts: { signIn?: boolean } = {}): Promise<void> {
    const { page, watch, close } = await openPage(browser, stack.url);
    try {
      if (opts.signIn !== false) await signIn(page, stack.url, admin);
      await fn(page, watch);
      await screenshot(page, name);
      expect(watch.dialogs, 'dialogs').to.deep.equal([]);
      expect(watch.cspViolations, 'CSP violations').to.deep.equal([]);
      expect(watch.errors, 'script errors').to.deep.equal([]);
      expect(watch.foreignRequests, 'requests off the origin').to.deep.equal([]);
    } catch (err) {
      await screenshot(page, `${name}-failed`).catch(() => undefined);
      throw err;
    } finally {
      await close();
    }
  }

  const submitApi = async (engine: string, body: Buffer | string, filename = 'sample.bin'): Promise<string> => {
    const { status, json } = await upload(stack.url, engine, body, { token: admin, filename });
    expect(status, JSON.stringify(json)).to.equal(200);
    return json.jobid as string;
  };

  it('signs in with a token (a wrong one is refused) kept in sessionStorage only', async () => {
    await onPage('sign-in', async (page) => {
      await page.goto(`${stack.url}/console/`);
      await page.getByLabel('API token').fill('not-a-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText('That token was refused').waitFor();
      await page.getByLabel('API token').fill(admin);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await page.locator('table.matrix tbody tr').first().waitFor();
      expect(await page.locator('table.matrix tbody th').allTextContents()).to.deep.equal(['copy', 'fail', 'slow', 'tiny']);
      expect(await page.evaluate(() => [sessionStorage.getItem('menagerie.token'), localStorage.length])).to.deep.equal([admin, 0]);
    }, { signIn: false });
  });

  it('submits a file through the page and watches it reach Success', async () => {
    await onPage('submit', async (page) => {
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

  it('result viewer: text escaped, JSON collapsible, binary as hex, zip as an entry listing', async () => {
    const html = '<b id="bold">not bold</b><script>alert(2)</script>';
    const json = JSON.stringify({ verdict: 'clean', nested: { deeper: { deepest: [1, 2, 3] } }, list: ['a', 'b'] });
    const binary = Buffer.from([0, 1, 2, 3, 255, 254, 65, 66, 0, 0x1b, 10]);
    const zip = storedZip([{ name: 'classes.dex', data: Buffer.from('dex\n035\0') }, { name: 'res/<i>x</i>.xml', data: Buffer.from('<xml/>') }]);
    const ids = await Promise.all([submitApi('copy', html), submitApi('copy', json), submitApi('copy', binary), submitApi('copy', zip)]);
    for (const id of ids) await waitDone(stack.url, id, 60_000, admin);
    await onPage('result-viewer', async (page) => {
      const open = async (id: string, kind: string): Promise<void> => {
        await page.goto(`${stack.url}/console/#/jobs/${id}`);
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
    const id = await submitApi('fail', 'anything');
    await onPage('not-found', async (page) => {
      await page.goto(`${stack.url}/console/#/jobs/${id}`);
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
      await page.goto(`${stack.url}/console/#/jobs/99999999`);
      await page.getByRole('alert').filter({ hasText: 'JOB_NOT_FOUND, HTTP 404' }).waitFor();
      await page.goto(`${stack.url}/console/#/nowhere`);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
    });
  });

  it('filters and pages the list, stable while new jobs arrive, with an "N new jobs — show" notice', async () => {
    const first: string[] = [];
    for (let i = 0; i < 27; i++) first.push(await submitApi('tiny', `job ${i}`, `page-${i}.txt`));
    await onPage('jobs-list', async (page) => {
      await page.getByRole('link', { name: 'Jobs', exact: true }).click();
      await page.locator('#f-engine').selectOption('tiny');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/engine=tiny/);
      const rowIds = (): Promise<string[]> => page.locator('table.jobs tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.job ?? ''));
      await page.locator('table.jobs').waitFor();
      const page1 = await rowIds();
      expect(page1).to.deep.equal([...first].reverse().slice(0, 25));
      // New jobs arrive: the page does not move, a notice tells how many.
      await submitApi('tiny', 'late 1', 'late-1.txt');
      await submitApi('tiny', 'late 2', 'late-2.txt');
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
    const id = await submitApi('copy', '<img src=x onerror=alert(3)>', HOSTILE);
    await waitDone(stack.url, id, 60_000, admin);
    await onPage('hostile-name', async (page, watch) => {
      await page.goto(`${stack.url}/console/#/jobs?engine=copy`);
      await page.locator(`table.jobs tbody tr[data-job="${id}"] td.filename`, { hasText: HOSTILE }).waitFor();
      await page.goto(`${stack.url}/console/#/jobs/${id}`);
      await page.locator('.viewer[data-kind=text]').waitFor();
      expect(await page.locator('.facts .filename').textContent()).to.equal(HOSTILE);
      expect(await page.locator('img').count()).to.equal(0);
      await page.waitForTimeout(500);
      expect(watch.dialogs).to.deep.equal([]);
    });
  });

  it('says when the server is unreachable, and recovers by itself', async () => {
    await onPage('unreachable', async (page) => {
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
    await onPage('policy', async (page) => {
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
    await onPage('keyboard-mobile', async (page) => {
      await page.setViewportSize({ width: 390, height: 800 });
      await page.goto(`${stack.url}/console/`);
      await page.getByLabel('API token').waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).to.equal('token');
      await page.keyboard.type(admin);
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
    await onPage('submit-limits', async (page) => {
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
    const id = await submitApi('copy', body, 'needle.txt');
    await submitApi('copy', 'other', 'haystack.txt');
    const sha = createHash('sha256').update(body).digest('hex');
    await onPage('jobs-filters', async (page) => {
      await page.goto(`${stack.url}/console/#/jobs?filename=needle.txt`);
      await page.locator(`table.jobs tbody tr[data-job="${id}"]`).waitFor();
      expect(await page.locator('table.jobs tbody tr').count()).to.equal(1);
      expect(await page.locator('#f-filename').inputValue()).to.equal('needle.txt');
      await page.locator('#f-filename').fill('');
      await page.locator('#f-sha256').fill(sha.toUpperCase());
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(new RegExp(`sha256=${sha}`));
      await page.locator(`table.jobs tbody tr[data-job="${id}"]`).waitFor();
      expect(await page.locator('table.jobs tbody tr').count()).to.equal(1);
      await page.goto(`${stack.url}/console/#/`);
      await page.locator('table.matrix tbody td.num').first().waitFor();
      const depth = await page.locator('table.matrix tbody tr', { hasText: 'copy' }).locator('td').nth(4).textContent();
      expect(depth, 'queue depth from API v1').to.match(/^[0-9]+$/);
    });
  });

  it('cancels a running job from its page (after an in-page confirmation)', async () => {
    const id = await submitApi('slow', 'never finishes');
    await onPage('cancel', async (page) => {
      await page.goto(`${stack.url}/console/#/jobs/${id}`);
      await page.locator('#job-status', { hasText: 'Running' }).waitFor({ timeout: 60_000 });
      await page.getByRole('button', { name: 'Cancel job' }).click();
      await page.getByText(`Cancel job ${id}? A cancelled job cannot be resumed.`).waitFor();
      await page.waitForTimeout(2500); // a status poll passes: the confirmation stays
      await page.getByRole('button', { name: 'Yes, cancel it' }).click();
      await page.locator('#job-status', { hasText: 'Fail' }).waitFor({ timeout: 30_000 });
      expect(await page.locator('.reason').textContent()).to.equal('Failed: cancelled');
      await page.getByRole('button', { name: 'Retry' }).waitFor();
    });
    expect(await waitNoContainers(docker, stack.node), 'the container is gone').to.deep.equal([]);
  });
});

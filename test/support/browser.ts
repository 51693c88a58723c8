import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (test/run installs it); playwright cannot download browsers here. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests save their screenshots (gitignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../../test-output/console/', import.meta.url));

/** Launches headless Chromium with the flags that work on these machines (ENVIRONMENT.md). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** What a page did that a test must see: dialogs opened, script errors, CSP violations, requests off the origin. */
export interface PageWatch {
  dialogs: string[];
  errors: string[];
  cspViolations: string[];
  foreignRequests: string[];
}

/** A new page (own context: own sessionStorage) that records dialogs, errors and CSP reports. */
export async function openPage(browser: Browser, origin: string): Promise<{ page: Page; watch: PageWatch; close: () => Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const watch: PageWatch = { dialogs: [], errors: [], cspViolations: [], foreignRequests: [] };
  page.on('dialog', (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => undefined);
  });
  page.on('pageerror', (e) => watch.errors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) watch.cspViolations.push(m.text());
    else if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) watch.errors.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) watch.foreignRequests.push(r.url());
  });
  return { page, watch, close: () => context.close() };
}

/** Saves a full-page screenshot as test-output/console/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = name.replace(/[^a-z0-9-]+/gi, '-');
  await page.screenshot({ path: join(SCREENSHOTS, `${file}.png`), fullPage: true });
  // A pass replaces the evidence of an earlier failure.
  if (!file.endsWith('-failed')) await rm(join(SCREENSHOTS, `${file}-failed.png`), { force: true });
}

/** Signs in on the console's login form with a token and waits for the dashboard. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
}

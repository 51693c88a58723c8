import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { TokenStore } from '../../src/auth/token-store.js';
import { createToken } from '../../src/auth/token-admin.js';
import { databaseOptions } from '../../src/frontend.js';
import { launchBrowser, openPage, screenshot, signIn, type PageWatch } from './browser.js';
import { detection, serveEnforcerApi } from './enforcer-api.js';
import { testEngine } from './services.js';
import { startStack, upload, type Stack } from './stack.js';

/** A file name that would run script if it were ever parsed as markup. */
export const HOSTILE = '<img src=x onerror=alert(1)>.apk';

const KEY = 'console-browser-test-key-0123456789abcdef';
const ENFORCER_TOKEN = 'enforcer-api-token-0123456789';

/** A real frontend and menage (tokens mode), the enforcer's API, Chromium and an admin token. */
export interface ConsoleFixture {
  stack: Stack;
  admin: string;
  /** Runs `fn` on a fresh signed-in page, saves its screenshot, and fails on any dialog, CSP violation, script error or request off the origin. */
  onPage(name: string, fn: (page: Page, watch: PageWatch) => Promise<void>, opts?: { signIn?: boolean }): Promise<void>;
  /** Uploads through the original API with the admin token; returns the job id. */
  submit(engine: string, body: Buffer | string, filename?: string): Promise<string>;
  close(): Promise<void>;
}

/** Engines: copy (result = input), fail (exit 7), slow (never ends), tiny (64-byte limit). */
export async function startConsoleFixture(): Promise<ConsoleFixture> {
  const enforcer = await serveEnforcerApi([detection('menagerie-job-9', 'memory-limit', 'memory above 64m'),
    detection(HOSTILE, 'no-privileged', '<script>alert(4)</script>')], ENFORCER_TOKEN);
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await browser?.close();
    await stack?.close();
    await enforcer.close();
  };
  try {
    stack = await startStack([
      testEngine('copy', { workers: 2 }),
      testEngine('fail', { cmd: ['/engine/fail', '7'] }),
      testEngine('slow', { cmd: ['/engine/sleep', '3600'], timeout: 120, workers: 1 }),
      testEngine('tiny', { sizelimit: 64 }),
    ], { overrides: { auth: { mode: 'tokens', key: KEY, uploadsPerMinute: 6000, uploadBurst: 1000 },
      console: { enforcerUrl: enforcer.url, enforcerToken: ENFORCER_TOKEN } } });
    const tokens = new TokenStore(databaseOptions(stack.env.config));
    const admin = await createToken(tokens, KEY, { name: 'analyst', role: 'admin' }).finally(() => tokens.close());
    browser = await launchBrowser();
    return { stack, admin: admin.token, close, onPage: pageRunner(browser, stack, admin.token), submit: submitter(stack, admin.token) };
  } catch (err) {
    await close();
    throw err;
  }
}

function pageRunner(browser: Browser, stack: Stack, token: string): ConsoleFixture['onPage'] {
  return async (name, fn, opts = {}) => {
    const { page, watch, close } = await openPage(browser, stack.url);
    try {
      if (opts.signIn !== false) await signIn(page, stack.url, token);
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
  };
}

function submitter(stack: Stack, token: string): ConsoleFixture['submit'] {
  return async (engine, body, filename = 'sample.bin') => {
    const { status, json } = await upload(stack.url, engine, body, { token, filename });
    expect(status, JSON.stringify(json)).to.equal(200);
    return json.jobid as string;
  };
}

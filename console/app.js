// The console's shell: hash routes, sign-in, the "unreachable" banner, page lifecycles.
import { ApiError, json, onReachability, setToken, token } from './api.js';
import { h, note, replace } from './dom.js';
import { currentRoute, errorNote } from './nav.js';
import { dashboardPage } from './pages/dashboard.js';
import { enginesPage } from './pages/engines.js';
import { jobPage } from './pages/job.js';
import { jobsPage } from './pages/jobs.js';
import { policyPage } from './pages/policy.js';
import { submitPage } from './pages/submit.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const signout = document.getElementById('signout');
const who = document.getElementById('who');

/** Routes: a path pattern, the page function and its title. */
const ROUTES = [
  [/^\/$/, dashboardPage, 'Dashboard'],
  [/^\/jobs$/, jobsPage, 'Jobs'],
  [/^\/jobs\/([1-9][0-9]{0,19})$/, jobPage, 'Job'],
  [/^\/submit$/, submitPage, 'Submit'],
  [/^\/engines$/, enginesPage, 'Engines'],
  [/^\/policy$/, policyPage, 'Policy'],
];

let stopPage = () => undefined;
let signedIn = false;

async function render() {
  stopPage();
  stopPage = () => undefined;
  if (!signedIn) return showLogin();
  const { path, params } = currentRoute();
  markNav(path);
  const match = ROUTES.map(([re, page, title]) => [re.exec(path), page, title]).find(([m]) => m);
  if (!match) {
    document.title = 'Not found · Menagerie';
    replace(main, h('h1', {}, 'Not found'), note('error', 'There is no such console page. ', h('a', { href: '#/' }, 'Go to the dashboard.')));
    return;
  }
  const [m, page, title] = match;
  document.title = `${title} · Menagerie`;
  const view = h('div', { class: 'page' });
  replace(main, view);
  try {
    stopPage = (await page(view, { id: m[1], params })) ?? (() => undefined);
  } catch (err) {
    replace(view, h('h1', {}, title), errorNote(err));
  }
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

function markNav(path) {
  for (const a of document.querySelectorAll('#nav a')) {
    const target = a.getAttribute('href').slice(1);
    const current = target === '/' ? path === '/' : path === target || path.startsWith(`${target}/`);
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Tries the stored token (or none, for the open mode) against the console API. */
async function trySignIn() {
  try {
    await json('/monitor/queues');
    signedIn = true;
  } catch (err) {
    signedIn = false;
    if (!(err instanceof ApiError && err.status === 401)) throw err;
  }
  signout.hidden = !signedIn || !token();
  who.textContent = signedIn ? (token() ? 'Signed in with a token' : 'Open mode: no token needed') : '';
  return signedIn;
}

function showLogin(message) {
  markNav('');
  document.title = 'Sign in · Menagerie';
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const status = h('div', { 'aria-live': 'polite' }, message ? note('error', message) : null);
  const form = h('form', { class: 'card login', on: { submit: async (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    try {
      if (await trySignIn()) return void render();
      setToken('');
      replace(status, note('error', 'That token was refused: check it, or ask an administrator for a new one.'));
    } catch (err) {
      setToken('');
      replace(status, errorNote(err));
    }
  } } },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Paste an API token (menagerie token create). It is kept for this browser tab only and forgotten when the tab closes.'),
  h('label', { for: 'token' }, 'API token'), input, h('button', { type: 'submit' }, 'Sign in'), status);
  replace(main, form);
  input.focus();
}

onReachability((reachable) => {
  banner.hidden = reachable;
  banner.textContent = reachable ? '' : 'The server cannot be reached. Showing the last data; retrying…';
});

window.addEventListener('menagerie:unauthorized', () => {
  if (!signedIn) return;
  signedIn = false;
  setToken('');
  stopPage();
  showLogin('Your token was refused (revoked or expired?). Sign in again.');
});

signout.addEventListener('click', () => {
  setToken('');
  signedIn = false;
  signout.hidden = true;
  who.textContent = '';
  render();
});

window.addEventListener('hashchange', render);

(async () => {
  try {
    await trySignIn();
  } catch (err) {
    replace(main, h('h1', {}, 'Menagerie'), errorNote(err));
    return;
  }
  render();
})();

// Dashboard: engines × statuses (each count links to its list), queue depth, worker slots,
// jobs per minute; refreshed every few seconds.
import { isMissingRoute, json } from '../api.js';
import { h, note, replace } from '../dom.js';
import { errorNote, every, href } from '../nav.js';

const REFRESH_MS = 5000;
const COLUMNS = [['RECEIVED', 'Received'], ['RUNNING', 'Running'], ['SUCCESS', 'Success'], ['FAIL', 'Fail']];

/** Engine details from API v1, or null when this server has no such route. */
export async function engineDetails() {
  try {
    return (await json('/api/v1/engines')).engines;
  } catch (err) {
    if (isMissingRoute(err)) return null;
    throw err;
  }
}

export async function dashboardPage(view) {
  const body = h('div', {}, note('info', 'Loading…'));
  const updated = h('p', { class: 'muted', 'aria-live': 'polite' });
  replace(view, h('h1', {}, 'Dashboard'), updated, body);
  let shown = false;
  return every(REFRESH_MS, async () => {
    const [queues, engines, rate] = await Promise.all([
      json('/monitor/queues'), engineDetails().catch(() => null), json('/monitor/throughput?minutes=5').catch(() => null),
    ]);
    replace(body, throughput(rate), matrix(queues.Queues, engines));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
    shown = true;
  }, (err) => {
    if (!shown) replace(body, errorNote(err));
    updated.textContent = `Not updated since the last refresh: ${err.message}`;
  });
}

function throughput(rate) {
  if (!rate) return note('info', 'Jobs per minute are not available.');
  const fails = Object.values(rate.finished).reduce((n, e) => n + e.fail, 0);
  return h('section', { class: 'stats', 'aria-label': 'Throughput' },
    h('div', { class: 'stat' }, h('span', { class: 'value', id: 'jobs-per-minute' }, String(rate.perMinute)),
      h('span', { class: 'label' }, `jobs finished per minute (last ${rate.minutes} min)`)),
    h('div', { class: 'stat' }, h('span', { class: 'value' }, String(fails)), h('span', { class: 'label' }, `failed in the last ${rate.minutes} min`)));
}

function matrix(queues, engines) {
  const names = Object.keys(queues);
  if (names.length === 0) return note('empty', 'No engine is configured.');
  const byName = new Map((engines ?? []).map((e) => [e.name, e]));
  const head = h('tr', {}, h('th', { scope: 'col' }, 'Engine'), COLUMNS.map(([, label]) => h('th', { scope: 'col', class: 'num' }, label)),
    h('th', { scope: 'col', class: 'num' }, 'Queue depth'), h('th', { scope: 'col', class: 'num' }, 'Busy / total slots'));
  const rows = names.map((name) => {
    const counts = queues[name];
    const e = byName.get(name);
    return h('tr', {},
      h('th', { scope: 'row' }, name),
      COLUMNS.map(([key, label]) => h('td', { class: 'num' }, counts[key] > 0
        ? h('a', { href: href('/jobs', new URLSearchParams({ engine: name, status: label })), 'aria-label': `${counts[key]} ${label} jobs of ${name}` }, String(counts[key]))
        : '0')),
      h('td', { class: 'num' }, e?.queue?.depth ?? '—'),
      h('td', { class: 'num' }, e?.slots ? `${e.slots.busy} / ${e.slots.total}` : '—'));
  });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'matrix' }, h('caption', {}, 'Jobs per engine and status'), h('thead', {}, head), h('tbody', {}, rows)),
    engines === null ? note('info', 'Queue depth and worker slots need the API v1 engines call, which this server does not offer.') : null);
}

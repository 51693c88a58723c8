// Jobs: filters in the URL, newest first, stable pages (API v1's keyset cursor, or the
// original console's pinned max index), and an "N new jobs — show" notice.
import { isMissingRoute, json } from '../api.js';
import { h, note, replace, statusBadge, when, duration } from '../dom.js';
import { errorNote, every, go, href } from '../nav.js';

const PAGE_SIZE = 25;
const NEW_POLL_MS = 5000;
const STATUSES = ['Received', 'Running', 'Success', 'Fail'];
const FILTERS = ['engine', 'status', 'filename', 'sha256'];

export async function jobsPage(view, { params }) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? '']));
  const engines = Object.keys((await json('/monitor/queues')).Queues);
  const notice = h('div', { 'aria-live': 'polite' });
  const list = h('div', {}, note('info', 'Loading…'));
  replace(view, h('h1', {}, 'Jobs'), filterForm(filters, engines), notice, list);

  let page;
  try {
    page = await loadPage(filters, params);
  } catch (err) {
    replace(list, errorNote(err));
    return undefined;
  }
  replace(list, table(page.jobs, filters), pager(page, filters, params));
  const top = Number(params.get('top') || page.jobs[0]?.jobid || 0);
  return every(NEW_POLL_MS, async () => {
    const n = await countNewer(filters, top, page.legacy);
    replace(notice, n > 0 ? h('p', { class: 'note new-jobs', role: 'status' }, `${n}${n >= 200 ? '+' : ''} new job${n === 1 ? '' : 's'} — `,
      h('a', { href: href('/jobs', filterParams(filters)), on: { click: (e) => {
        // Same URL as now (page 1 with the same filters): render it again.
        if (location.hash === e.currentTarget.getAttribute('href')) window.dispatchEvent(new HashChangeEvent('hashchange'));
      } } }, 'show')) : null);
  });
}

/** The filter part of the URL (no paging). */
function filterParams(filters) {
  const p = new URLSearchParams();
  for (const k of FILTERS) if (filters[k]) p.set(k, filters[k]);
  return p;
}

function filterForm(filters, engines) {
  const engine = h('select', { id: 'f-engine', name: 'engine' }, h('option', { value: '' }, 'any engine'),
    engines.map((e) => h('option', { value: e, selected: filters.engine === e }, e)));
  const chosen = new Set(filters.status.split(',').filter(Boolean));
  const statuses = h('fieldset', { class: 'inline' }, h('legend', {}, 'Status'),
    STATUSES.map((s) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'status', value: s, checked: chosen.has(s) }), ` ${s}`)));
  const filename = h('input', { id: 'f-filename', name: 'filename', type: 'search', value: filters.filename, maxlength: 255 });
  const sha = h('input', { id: 'f-sha256', name: 'sha256', type: 'search', value: filters.sha256, pattern: '[0-9a-fA-F]{64}',
    title: '64 hexadecimal digits', size: 40, spellcheck: 'false' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter jobs', on: { submit: (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = { engine: data.get('engine'), status: data.getAll('status').join(','), filename: String(data.get('filename')).trim(), sha256: String(data.get('sha256')).trim().toLowerCase() };
    go('/jobs', filterParams(next));
  } } },
  h('div', { class: 'field' }, h('label', { for: 'f-engine' }, 'Engine'), engine), statuses,
  h('div', { class: 'field' }, h('label', { for: 'f-filename' }, 'File name'), filename),
  h('div', { class: 'field' }, h('label', { for: 'f-sha256' }, 'SHA-256'), sha),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply filters'), ' ', h('a', { href: '#/jobs' }, 'Clear')));
  return form;
}

/** One page: API v1 with its cursor, or the original console's API on a server without it. */
async function loadPage(filters, params) {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const k of FILTERS) if (filters[k]) q.set(k, filters[k]);
  if (params.get('cursor')) q.set('cursor', params.get('cursor'));
  try {
    const page = await json(`/api/v1/jobs?${q}`);
    return { jobs: page.jobs, next: page.next, legacy: false };
  } catch (err) {
    if (!isMissingRoute(err)) throw err;
  }
  return loadLegacyPage(filters, params);
}

async function loadLegacyPage(filters, params) {
  if (filters.filename || filters.sha256) throw new Error('this server has no API v1 job listing: only the engine and status filters work');
  const q = legacyQuery(filters);
  const max = Number(params.get('top')) || (await json(`/monitor/jobs/paginate?${q}`)).max_index;
  const pageNo = Math.max(1, Number(params.get('page')) || 1);
  if (max === 0) return { jobs: [], next: null, legacy: true };
  const [rows, after] = await Promise.all([json(`/monitor/jobs/${max}/${PAGE_SIZE}/${pageNo}?${q}`),
    // One row past this page (limit 1, so page number = offset + 1): is there a next page?
    json(`/monitor/jobs/${max}/1/${pageNo * PAGE_SIZE + 1}?${q}`)]);
  const jobs = rows.jobs.map((r) => ({ jobid: String(r.id), engine: r.engine, filename: r.filename, status: r.status,
    reason: r.error, created: r.created, started: r.started, finished: r.finished }));
  // The pinned max index keeps pages stable while new jobs arrive (the original's paging).
  return { jobs, next: after.jobs.length > 0 ? `legacy:${pageNo + 1}` : null, legacy: true, top: max };
}

function legacyQuery(filters) {
  const q = new URLSearchParams();
  if (filters.engine) q.set('eng', filters.engine);
  if (filters.status) q.set('st', filters.status);
  return q;
}

/** Jobs matching the filters that are newer than `top`. */
async function countNewer(filters, top, legacy) {
  if (!filters.filename && !filters.sha256) {
    const q = legacyQuery(filters);
    q.set('min-id', String(top + 1));
    return (await json(`/monitor/jobs/paginate?${q}`)).count;
  }
  if (legacy) return 0;
  const q = filterParams(filters);
  q.set('limit', '200');
  const { jobs } = await json(`/api/v1/jobs?${q}`);
  return jobs.filter((j) => Number(j.jobid) > top).length;
}

function table(jobs, filters) {
  if (jobs.length === 0) {
    const any = FILTERS.some((k) => filters[k]);
    return note('empty', any ? 'No job matches these filters.' : 'No jobs yet. ', any ? null : h('a', { href: '#/submit' }, 'Submit a file.'));
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'jobs' },
    h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
    h('thead', {}, h('tr', {}, ['Job', 'Engine', 'File name', 'Status', 'Created', 'Took', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, jobs.map((j) => h('tr', { 'data-job': j.jobid },
      h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(j.jobid)}` }, j.jobid)),
      h('td', {}, j.engine), h('td', { class: 'filename' }, j.filename), h('td', {}, statusBadge(j.status)),
      h('td', {}, when(j.created)), h('td', {}, duration(j.started, j.finished)), h('td', {}, j.reason || ''))))));
}

function pager(page, filters, params) {
  const top = params.get('top') || page.top || page.jobs[0]?.jobid || '';
  const links = [];
  if (params.get('cursor') || Number(params.get('page')) > 1) {
    links.push(h('button', { type: 'button', class: 'link', on: { click: () => history.back() } }, '← Previous page'));
  }
  if (page.next) {
    const p = filterParams(filters);
    if (page.next.startsWith('legacy:')) p.set('page', page.next.slice(7));
    else p.set('cursor', page.next);
    if (top) p.set('top', String(top));
    links.push(h('a', { href: href('/jobs', p), rel: 'next' }, 'Next page →'));
  }
  return h('nav', { class: 'pager', 'aria-label': 'Pages' }, links);
}

// Policy: the enforcer's recent detections and violations by rule, read through the frontend.
import { json } from '../api.js';
import { h, note, replace, when } from '../dom.js';
import { errorNote, every } from '../nav.js';

const REFRESH_MS = 10_000;

export async function policyPage(view) {
  const body = h('div', {}, note('info', 'Loading…'));
  replace(view, h('h1', {}, 'Policy'), body);
  return every(REFRESH_MS, async () => replace(body, render(await json('/monitor/policy'))), (err) => replace(body, errorNote(err)));
}

function render(p) {
  if (!p.available) return note('error', 'The enforcer\'s state is not available here. ', p.reason);
  const rules = Object.entries(p.violationsByRule).sort((a, b) => b[1] - a[1]);
  return h('div', {},
    h('p', {}, `Mode: ${p.mode ?? 'unknown'} · rules loaded: ${p.rules ?? 'unknown'}`),
    h('h2', {}, 'Violations by rule'),
    rules.length === 0 ? note('empty', 'No recent violation.') : h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Rule'), h('th', { scope: 'col', class: 'num' }, 'Count'))),
      h('tbody', {}, rules.map(([r, n]) => h('tr', {}, h('td', {}, r), h('td', { class: 'num' }, String(n)))))),
    h('h2', {}, 'Recent detections'),
    p.detections.length === 0 ? note('empty', 'No recent detection.') : h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Time', 'Container', 'Rules', 'Mode', 'Outcome', 'Count'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, p.detections.map((d) => h('tr', {}, h('td', {}, when(d.time)), h('td', {}, d.name || d.container.slice(0, 12)),
        h('td', {}, d.rules.map((r) => h('div', {}, h('strong', {}, r.rule), r.message ? `: ${r.message}` : ''))),
        h('td', {}, d.mode), h('td', {}, d.outcome), h('td', { class: 'num' }, String(d.count))))))));
}

// Engines: name, image and digest, workers, limits, timeout, size limit, queue depth.
import { json } from '../api.js';
import { bytes, h, note, replace } from '../dom.js';
import { engineDetails } from './dashboard.js';

export async function enginesPage(view) {
  const engines = await engineDetails();
  if (engines === null) {
    const names = Object.keys((await json('/monitor/queues')).Queues);
    replace(view, h('h1', {}, 'Engines'), note('info', 'This server does not describe its engines (no API v1 engines call); their names:'),
      h('ul', {}, names.map((n) => h('li', {}, n))));
    return;
  }
  if (engines.length === 0) return void replace(view, h('h1', {}, 'Engines'), note('empty', 'No engine is configured.'));
  const cols = ['Engine', 'Image', 'Digest', 'Workers', 'Busy / total', 'Queue depth', 'Size limit', 'Timeout', 'Memory', 'CPUs', 'PIDs', 'Network', 'Cache'];
  replace(view, h('h1', {}, 'Engines'), h('div', { class: 'table-wrap' }, h('table', { class: 'engines' },
    h('caption', { class: 'visually-hidden' }, 'Configured engines'),
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, engines.map((e) => h('tr', {},
      h('th', { scope: 'row' }, e.name), h('td', {}, h('code', {}, e.image)), h('td', {}, e.digest ? h('code', { class: 'hash' }, e.digest) : '—'),
      h('td', { class: 'num' }, String(e.workers)), h('td', { class: 'num' }, e.slots ? `${e.slots.busy} / ${e.slots.total}` : '—'),
      h('td', { class: 'num' }, e.queue?.depth ?? '—'), h('td', { class: 'num' }, bytes(e.sizelimit)), h('td', { class: 'num' }, `${e.timeout} s`),
      h('td', { class: 'num' }, typeof e.containment?.memory === 'number' ? bytes(e.containment.memory) : '—'), h('td', {}, String(e.containment?.cpus ?? '—')), h('td', {}, String(e.containment?.pids ?? '—')),
      h('td', {}, String(e.containment?.network ?? '—')), h('td', {}, e.cache ? 'on' : 'off')))))));
}

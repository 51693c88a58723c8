// Submit: one or more engines, drag and drop or choose a file, each engine's size limit shown
// and enforced before the upload starts, a progress bar, then the job page(s).
import { isMissingRoute, json, uploadWithProgress } from '../api.js';
import { bytes, h, note, replace } from '../dom.js';
import { errorNote, go } from '../nav.js';
import { engineDetails } from './dashboard.js';

export async function submitPage(view) {
  const details = await engineDetails();
  const engines = details ?? Object.keys((await json('/monitor/queues')).Queues).map((name) => ({ name, sizelimit: null }));
  if (engines.length === 0) return void replace(view, h('h1', {}, 'Submit'), note('empty', 'No engine is configured.'));
  let file = null;
  const status = h('div', { 'aria-live': 'polite', id: 'submit-status' });
  const progress = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': 'Upload progress' });
  const picker = h('input', { type: 'file', id: 'file', name: 'file', class: 'visually-hidden' });
  const chosen = h('p', { id: 'chosen', class: 'muted' }, 'No file chosen.');
  const boxes = engines.map((e) => h('label', { class: 'check engine-choice' },
    h('input', { type: 'checkbox', name: 'engine', value: e.name, checked: engines.length === 1 }), ` ${e.name} `,
    h('span', { class: 'muted' }, e.sizelimit ? `(up to ${bytes(e.sizelimit)})` : '(size limit not known)')));
  const choose = (f) => {
    file = f;
    chosen.textContent = f ? `${f.name} · ${bytes(f.size)}` : 'No file chosen.';
    replace(status);
  };
  picker.addEventListener('change', () => choose(picker.files?.[0] ?? null));
  const drop = h('div', { class: 'drop', id: 'drop' },
    h('p', {}, 'Drop a file here, or '), h('label', { for: 'file', class: 'button' }, 'Choose a file'), picker, chosen);
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const files = e.dataTransfer?.files;
    if (files?.length !== 1) return void replace(status, note('error', 'Drop exactly one file.'));
    choose(files[0]);
  });
  const send = h('button', { type: 'submit' }, 'Submit');
  const form = h('form', { class: 'card', on: { submit: async (e) => {
    e.preventDefault();
    const names = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    const problem = check(file, names, engines);
    if (problem) return void replace(status, note('error', problem));
    send.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    replace(status, note('info', `Uploading ${file.name}…`));
    try {
      const jobs = await submit(file, names, (done, total) => (progress.value = Math.round((done / total) * 100)));
      progress.value = 100;
      if (jobs.length === 1) return go(`/jobs/${jobs[0].jobid}`);
      replace(status, note('info', 'Submitted:'), h('ul', {}, jobs.map((j) => h('li', {}, h('a', { href: `#/jobs/${j.jobid}` }, `job ${j.jobid}`), ` (${j.engine})`))));
    } catch (err) {
      replace(status, errorNote(err));
    } finally {
      send.disabled = false;
    }
  } } },
  h('fieldset', {}, h('legend', {}, 'Engines'), boxes), drop, progress, h('div', { class: 'actions' }, send), status);
  replace(view, h('h1', {}, 'Submit a file'), details === null ? note('info', 'This server does not tell its engines\' size limits (no API v1): the server still enforces them.') : null, form);
  return undefined;
}

/** Why the form cannot be sent yet, or null: no file, no engine, or a file over a limit. */
function check(file, names, engines) {
  if (!file) return 'Choose a file first.';
  if (names.length === 0) return 'Pick at least one engine.';
  const over = engines.filter((e) => names.includes(e.name) && e.sizelimit && file.size > e.sizelimit);
  if (over.length) return `The file (${bytes(file.size)}) is larger than the limit of ${over.map((e) => `${e.name} (${bytes(e.sizelimit)})`).join(', ')}. Nothing was uploaded.`;
  return null;
}

/** One engine: the original upload; several: one submission (API v1), else one upload each. */
async function submit(file, names, onProgress) {
  if (names.length === 1) {
    const { jobid } = await uploadWithProgress(`/${encodeURIComponent(names[0])}/upload`, file, onProgress);
    return [{ engine: names[0], jobid }];
  }
  try {
    return (await uploadWithProgress(`/api/v1/submissions?engines=${names.map(encodeURIComponent).join(',')}`, file, onProgress)).jobs;
  } catch (err) {
    if (!isMissingRoute(err)) throw err;
  }
  const jobs = [];
  for (const [i, name] of names.entries()) {
    const { jobid } = await uploadWithProgress(`/${encodeURIComponent(name)}/upload`, file, (d, t) => onProgress(i * t + d, names.length * t));
    jobs.push({ engine: name, jobid });
  }
  return jobs;
}

// Job page: details, status live until terminal, reason, containment report, log excerpt,
// result viewer, download, cancel and retry.
import { ApiError, isMissingRoute, json, jsonFirst, readCapped, request } from '../api.js';
import { bytes, duration, facts, h, note, replace, statusBadge, when } from '../dom.js';
import { errorNote, every, go } from '../nav.js';
import { viewResult } from '../viewers.js';

const POLL_MS = 2000;
// After the first read, API v1 holds each read until the job ends, at most this long: the
// status stays as fresh as the polling was, and the end shows the moment it happens.
const WAIT_S = 2;
const PREVIEW_BYTES = 1024 * 1024;
const LOG_BYTES = 16 * 1024;
const TERMINAL = new Set(['Success', 'Fail']);

export async function jobPage(view, { id }) {
  const status = h('span', { 'aria-live': 'polite', id: 'job-status' });
  const actions = h('div', { class: 'actions', 'aria-live': 'polite' });
  const details = h('div', {}, note('info', 'Loading…'));
  const finished = h('div', {});
  replace(view, h('h1', {}, `Job ${id} `, status), actions, details, finished);
  let stop = () => undefined;
  let shown = '';
  // A read answered quickly without an end (a server without ?wait=, or one stopping) is
  // followed by a pause; a held one by the next read at once.
  let quick = true;
  stop = every(() => (quick ? POLL_MS : 0), async () => {
    const asked = performance.now();
    const job = await jsonFirst([`/api/v1/jobs/${id}${shown ? `?wait=${WAIT_S}` : ''}`, `/jobs/${id}`]);
    quick = performance.now() - asked < WAIT_S * 500;
    replace(status, statusBadge(job.status));
    replace(details, describe(job));
    // The buttons change with the status only, so a confirmation in progress stays.
    if (job.status !== shown) replace(actions, ...buttons(job, actions));
    shown = job.status;
    if (TERMINAL.has(job.status)) {
      stop();
      await showOutcome(finished, job);
    }
  }, (err) => {
    replace(details, errorNote(err));
    // No such job (or another owner's): asking again will not change that.
    if (err instanceof ApiError && err.status === 404) stop();
  });
  return () => stop();
}

function describe(job) {
  const pairs = [
    ['Engine', job.engine], ['Image digest', job.imageDigest ?? '—'], ['File name', h('span', { class: 'filename' }, job.filename)],
    ['Size', `${bytes(job.size)} (${job.size} bytes)`], ['SHA-256', h('code', { class: 'hash' }, job.sha256)],
    ['Attempts', String(job.attempts)], ['Created', when(job.created)], ['Started', when(job.started)],
    ['Finished', when(job.finished)], ['Took', duration(job.started, job.finished)],
  ];
  if (job.owner) pairs.push(['Owner', job.owner]);
  if (job.cached) pairs.push(['Cached', 'yes: answered from an earlier identical analysis']);
  if (job.retryOf) pairs.push(['Retry of', h('a', { href: `#/jobs/${encodeURIComponent(job.retryOf)}` }, `job ${job.retryOf}`)]);
  return h('section', { 'aria-label': 'Details' },
    job.status === 'Fail' ? h('p', { class: 'note error reason', role: 'alert' }, h('strong', {}, 'Failed: '), job.reason || 'no reason recorded') : null,
    facts(pairs), containment(job.containment));
}

function containment(report) {
  if (!report || typeof report !== 'object') return h('section', {}, h('h2', {}, 'Containment'), note('empty', 'No containment report (the job has not run yet).'));
  const rows = Object.entries(report).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]);
  return h('section', {}, h('h2', {}, 'Containment'), h('p', { class: 'muted' }, 'The controls in force for the container, read back from Docker.'), facts(rows));
}

function buttons(job, area) {
  const out = [];
  const act = async (verb, fn) => {
    try {
      await fn();
    } catch (err) {
      if (isMissingRoute(err)) return replace(area, note('error', `This server cannot ${verb} jobs (its API has no such call yet).`));
      replace(area, errorNote(err));
    }
  };
  if (!TERMINAL.has(job.status)) {
    // Two steps, in the page (no dialog): a cancelled job cannot be resumed.
    const cancel = async () => act('cancel', async () => {
      await json(`/api/v1/jobs/${job.jobid}/cancel`, { method: 'POST' });
      window.dispatchEvent(new HashChangeEvent('hashchange'));
    });
    out.push(h('button', { type: 'button', class: 'danger', on: { click: () => replace(area,
      h('span', { role: 'status' }, `Cancel job ${job.jobid}? A cancelled job cannot be resumed.`),
      h('button', { type: 'button', class: 'danger', on: { click: cancel } }, 'Yes, cancel it'),
      h('button', { type: 'button', on: { click: () => replace(area, ...buttons(job, area)) } }, 'Keep it')) } }, 'Cancel job'));
  } else {
    out.push(h('button', { type: 'button', on: { click: () => download(job) } }, job.status === 'Success' ? 'Download result' : 'Download error text'));
    out.push(h('button', { type: 'button', on: { click: () => act('retry', async () => {
      const { jobid } = await json(`/api/v1/jobs/${job.jobid}/retry`, { method: 'POST' });
      go(`/jobs/${jobid}`);
    }) } }, 'Retry'));
  }
  return out;
}

async function download(job) {
  const res = await request(`/link/${job.jobid}`);
  const url = URL.createObjectURL(await res.blob());
  const a = h('a', { href: url, download: `${job.status === 'Success' ? 'result' : 'error'}-${job.jobid}`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function showOutcome(area, job) {
  const result = h('section', { 'aria-label': 'Result' }, h('h2', {}, job.status === 'Success' ? 'Result' : 'Error text'), note('info', 'Loading…'));
  const log = h('section', { 'aria-label': 'Engine log' }, h('h2', {}, 'Engine log'), note('info', 'Loading…'));
  replace(area, result, log);
  await Promise.all([
    (async () => {
      try {
        const { bytes: data, truncated } = await readCapped(await request(`/link/${job.jobid}`), PREVIEW_BYTES);
        replace(result, result.firstChild, data.length ? viewResult(data, truncated) : note('empty', 'The result is empty.'));
      } catch (err) {
        replace(result, result.firstChild, errorNote(err));
      }
    })(),
    (async () => {
      try {
        const text = await (await request(`/jobs/${job.jobid}/log`)).text();
        const excerpt = text.length > LOG_BYTES ? text.slice(-LOG_BYTES) : text;
        replace(log, log.firstChild, text ? [text.length > LOG_BYTES ? note('info', 'The last part of the log:') : null,
          h('pre', { class: 'text log', tabindex: 0 }, excerpt)] : note('empty', 'The engine wrote nothing to its log.'));
      } catch (err) {
        replace(log, log.firstChild, errorNote(err));
      }
    })(),
  ]);
}

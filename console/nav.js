// Hash routes and error messages, shared by the shell and the pages.
import { ApiError, Unreachable } from './api.js';
import { note } from './dom.js';

/** The current hash route: path and query parameters. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  return { path: q < 0 ? raw : raw.slice(0, q), params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

/** A hash link to a route with parameters. */
export function href(path, params) {
  const qs = params && [...params].length ? `?${params}` : '';
  return `#${path}${qs}`;
}

/** Navigates to a hash route (the shell renders it on hashchange). */
export function go(path, params) {
  location.hash = href(path, params);
}

/** Replaces the current route's parameters without rendering the page again. */
export function setParams(path, params) {
  history.replaceState(null, '', href(path, params));
}

/** An error as a message for people (never the raw answer as markup). */
export function errorNote(err) {
  if (err instanceof Unreachable) return note('error', 'The server cannot be reached. The page will try again.');
  if (err instanceof ApiError) return note('error', `${err.message} (${err.code}, HTTP ${err.status})`);
  return note('error', `Something went wrong: ${err?.message ?? err}`);
}

/**
 * Runs `fn` now and again `ms` after each run ends (a number, or a function asked after each
 * run) until the returned stopper is called; errors go to `onError`.
 */
export function every(ms, fn, onError = () => undefined) {
  let stopped = false;
  let timer;
  const tick = async () => {
    try {
      await fn();
    } catch (err) {
      onError(err);
    }
    if (!stopped) timer = setTimeout(tick, typeof ms === 'function' ? ms() : ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// The console's only way to the server: same origin, the token from this browser session.

const TOKEN_KEY = 'menagerie.token';
const listeners = new Set();

/** An answer that was not 2xx: status, the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The server could not be reached at all. */
export class Unreachable extends Error {}

/** The token of this browser session ('' in the open mode or when signed out). */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** Keeps the token for this browser session only (sessionStorage, never localStorage). */
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Calls `fn(reachable)` after each request: the page shows a banner while unreachable. */
export function onReachability(fn) {
  listeners.add(fn);
}

let lastFailure = -1;

/**
 * Reports reachability. A success clears the banner only if its request started after the
 * last failure: an answer that was already on its way proves nothing about later ones.
 */
function tell(reachable, started) {
  if (reachable && started < lastFailure) return;
  if (!reachable) lastFailure = performance.now();
  for (const fn of listeners) fn(reachable);
}

function headers(extra = {}) {
  const t = token();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

/** A request; throws Unreachable, or ApiError for a non-2xx answer. Returns the Response. */
export async function request(path, init = {}) {
  let res;
  const started = performance.now();
  try {
    res = await fetch(path, { ...init, headers: headers(init.headers), credentials: 'omit', cache: 'no-store' });
  } catch {
    tell(false);
    throw new Unreachable('the server cannot be reached');
  }
  tell(true, started);
  if (!res.ok) {
    let code = 'HTTP_' + res.status;
    let message = `the server answered ${res.status}`;
    try {
      const body = await res.json();
      if (body?.error) ({ code, message } = body.error);
    } catch { /* not JSON: keep the generic message */ }
    if (res.status === 401) window.dispatchEvent(new CustomEvent('menagerie:unauthorized', { detail: message }));
    throw new ApiError(res.status, code, message);
  }
  return res;
}

/** GET (or another method) answering JSON. */
export async function json(path, init = {}) {
  return (await request(path, init)).json();
}

/** Whether an error says the route itself does not exist (a server without that API). */
export function isMissingRoute(err) {
  return err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND';
}

/** JSON from the first path whose route exists (API v1 first, the original routes next). */
export async function jsonFirst(paths) {
  let last;
  for (const p of paths) {
    try {
      return await json(p);
    } catch (err) {
      if (!isMissingRoute(err)) throw err;
      last = err;
    }
  }
  throw last;
}

/**
 * Reads at most `max` bytes of a response body. Returns { bytes, truncated }: results are
 * previewed without loading a huge file into the page.
 */
export async function readCapped(res, max) {
  const reader = res.body.getReader();
  const parts = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.length;
    if (size > max) {
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  const out = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.length, out.length - at);
    out.set(p.subarray(0, take), at);
    at += take;
    if (at >= out.length) break;
  }
  return { bytes: out, truncated };
}

/**
 * Uploads a file as multipart field `upload` with progress (XMLHttpRequest: fetch has no
 * upload progress). Resolves with the parsed JSON answer; rejects with ApiError/Unreachable.
 */
export function uploadWithProgress(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    const t = token();
    if (t) xhr.setRequestHeader('authorization', `Bearer ${t}`);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('error', () => {
      tell(false);
      reject(new Unreachable('the server cannot be reached'));
    });
    xhr.addEventListener('load', () => {
      tell(true, started);
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      if (xhr.status === 401) window.dispatchEvent(new CustomEvent('menagerie:unauthorized', { detail: body?.error?.message ?? '' }));
      reject(new ApiError(xhr.status, body?.error?.code ?? `HTTP_${xhr.status}`, body?.error?.message ?? `the server answered ${xhr.status}`));
    });
    const form = new FormData();
    form.append('upload', file, file.name);
    xhr.send(form);
  });
}

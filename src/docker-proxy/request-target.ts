/**
 * The request target as Docker will route it, or why it is ambiguous. Docker (gorilla/mux)
 * routes on the percent-decoded path and cleans dot segments and doubled slashes; a filter
 * that matched the raw text would disagree with it. Rather than imitate every decoding, the
 * proxy accepts only targets that read the same before and after decoding: no `%` in the
 * path, no `\`, `;`, `//`, `.` or `..` segments, no trailing slash, no fragment.
 */
export interface RequestTarget {
  /** The API version segment (`v1.41`), when the path has one. */
  readonly version: string | undefined;
  /** The path segments after the version. */
  readonly segments: readonly string[];
  /** Query parameters in order, decoded as Go's url.ParseQuery does. */
  readonly query: readonly (readonly [string, string])[];
}

/** Why a target was refused. */
export class BadTarget extends Error {}

const PATH_CHARS = /^[A-Za-z0-9._:@+=,~/-]+$/;
// API versions older than 1.24 let `start` carry a HostConfig: refused altogether.
const VERSION = /^v1\.(?:2[4-9]|[3-9][0-9])$/;

/** Parses a request target (`req.url`); throws BadTarget when it is ambiguous. */
export function parseTarget(url: string): RequestTarget {
  if (!url.startsWith('/')) throw new BadTarget('the request target must be a path');
  if (url.includes('#')) throw new BadTarget('the request target has a fragment');
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!PATH_CHARS.test(path)) throw new BadTarget('the path has a character the proxy does not route (percent-encoding, backslash, semicolon, ...)');
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw new BadTarget('the path has an empty, "." or ".." segment, or a trailing slash');
  let version: string | undefined;
  if (/^v[0-9.]+$/.test(segments[0] ?? '')) {
    if (!VERSION.test(segments[0]!)) throw new BadTarget(`API version ${segments[0]} is not accepted (1.24 or later)`);
    version = segments.shift();
  }
  return { version, segments, query: q < 0 ? [] : parseQuery(url.slice(q + 1)) };
}

/** Go's url.ParseQuery: `&`-separated, `+` is a space; `;` and bad escapes are errors there too. */
function parseQuery(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of text.split('&')) {
    if (part === '') continue;
    if (part.includes(';')) throw new BadTarget('the query has a semicolon');
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    out.push([unescape(k), unescape(v)]);
  }
  return out;
}

function unescape(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new BadTarget('the query has an invalid percent-encoding');
  }
}

/** Builds the target sent to Docker from judged parts: the only form Docker ever sees. */
export function formatTarget(version: string | undefined, segments: readonly string[], query: readonly (readonly [string, string])[]): string {
  const path = `/${[...(version ? [version] : []), ...segments].join('/')}`;
  const qs = query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return qs ? `${path}?${qs}` : path;
}

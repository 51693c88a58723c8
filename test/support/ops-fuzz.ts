import { Rng } from './multipart-fuzz.js';
import type { RawOutcome, RawRequest } from './raw-socket.js';

/**
 * Hostile requests for the operations endpoints (/metrics, /healthz, /readyz): odd methods,
 * paths in other capitals and encodings, huge and malformed headers, good, bad and absent
 * tokens, bodies on GET. A case knows whether its token is the right one.
 */

/** What the case's Authorization says: the right token, a spelling of it a server may or may not take, or not it. */
export type TokenKind = 'right' | 'maybe' | 'wrong' | 'none';

export interface OpsCase {
  label: string;
  request: RawRequest;
  token: TokenKind;
  method: string;
}

/** The tokens a target knows: the one that reads metrics, and others that must not (another role's). */
export interface OpsTokens {
  right: string;
  others: readonly string[];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'get', 'BREW', 'M-SEARCH', 'PROPFIND', 'G\x01T', 'GET'.repeat(40)];
const PATHS = ['/metrics', '/metrics', '/healthz', '/readyz', '/', '/metricsx', '/metric', '/health', '/healthz/../metrics'];

/** Small changes a client, a proxy or an attacker makes to a path. */
const PATH_MUTATIONS: readonly ((p: string, rng: Rng) => string)[] = [
  (p, rng) => { const i = rng.int(p.length); return p.slice(0, i) + p.charAt(i).toUpperCase() + p.slice(i + 1); },
  (p) => p.toUpperCase(),
  (p, rng) => { const i = 1 + rng.int(p.length - 1); return `${p.slice(0, i)}%${p.charCodeAt(i).toString(16).padStart(2, '0')}${p.slice(i + 1)}`; },
  (p, rng) => { const i = 1 + rng.int(p.length - 1); return `${p.slice(0, i)}%${p.charCodeAt(i).toString(16).toUpperCase()}${p.slice(i + 1)}`; },
  (p, rng) => p + rng.pick(['/', '//', '?', '?x=1', '?token=abc', '#frag', ';x', '%00', '%2f', '%zz', '%', '/.', '/..', '.json', '%20', '?'.repeat(3)]),
  (p, rng) => rng.pick(['//', '/./', '/../', 'http://t', 'http://evil.example', '*', '', '\\']) + p.replace(/^\//, rng.chance(0.5) ? '/' : ''),
  (p) => p.replace(/\//g, '\\'),
  (p, rng) => p + '/x'.repeat(1 + rng.int(6000)),
  (p, rng) => { const i = rng.int(p.length); return p.slice(0, i) + rng.pick(['\x01', '\t', ' ', '\x7f', 'é', '\u2028', '\u00a0']) + p.slice(i); },
];

function mutatePath(rng: Rng): string {
  let p = rng.pick(PATHS);
  const n = rng.chance(0.3) ? 0 : 1 + rng.int(2);
  for (let k = 0; k < n; k++) p = rng.pick(PATH_MUTATIONS)(p, rng);
  return p;
}

/** One changed character of a token (the same length: the comparison's hardest case). */
function flipped(token: string, rng: Rng): string {
  const i = rng.int(token.length);
  const c = token.charAt(i) === 'a' ? 'b' : 'a';
  return token.slice(0, i) + c + token.slice(i + 1);
}

/** Authorization headers (zero or more lines) and what they amount to. */
function authorization(rng: Rng, t: OpsTokens): { lines: string[]; token: TokenKind; label: string } {
  const r = t.right;
  const choices: [string, () => string[], TokenKind][] = [
    ['none', () => [], 'none'],
    ['right', () => [`Authorization: Bearer ${r}`], 'right'],
    // Spaces and tabs around a header's value are not part of it (RFC 9110, 5.5).
    ['right, padded', () => [`Authorization: ${rng.pick([' ', '\t', '  '])}Bearer ${r}${rng.pick([' ', '\t', ' \t '])}`], 'right'],
    ['scheme lower case', () => [`Authorization: bearer ${r}`], 'maybe'],
    ['scheme upper case', () => [`Authorization: BEARER ${r}`], 'maybe'],
    ['two spaces', () => [`Authorization: Bearer  ${r}`], 'maybe'],
    ['right, then wrong', () => [`Authorization: Bearer ${r}`, `Authorization: Bearer ${flipped(r, rng)}`], 'maybe'],
    ['wrong, then right', () => [`Authorization: Bearer ${flipped(r, rng)}`, `Authorization: Bearer ${r}`], 'maybe'],
    ['one character changed', () => [`Authorization: Bearer ${flipped(r, rng)}`], 'wrong'],
    ['cut short', () => [`Authorization: Bearer ${r.slice(0, -1 - rng.int(r.length - 1))}`], 'wrong'],
    ['longer', () => [`Authorization: Bearer ${r}${rng.pick(['x', '0', ' x', '\tx', '%00'])}`], 'wrong'],
    ['upper case', () => [`Authorization: Bearer ${r.toUpperCase() === r ? flipped(r, rng) : r.toUpperCase()}`], 'wrong'],
    ['basic', () => [`Authorization: Basic ${Buffer.from(`x:${r}`).toString('base64')}`], 'wrong'],
    ['bare token', () => [`Authorization: ${r}`], 'wrong'],
    ['scheme only', () => [rng.pick(['Authorization: Bearer', 'Authorization: Bearer ', 'Authorization:'])], 'wrong'],
    ['huge', () => [`Authorization: Bearer ${'A'.repeat(rng.pick([200, 5000, 20_000, 70_000]))}`], 'wrong'],
    ['latin-1', () => [`Authorization: Bearer ${r.slice(0, -1)}\u00ff`], 'wrong'],
    ['in the query', () => [], 'none'],
    ['another token', () => (t.others.length ? [`Authorization: Bearer ${rng.pick(t.others)}`] : []), t.others.length ? 'wrong' : 'none'],
  ];
  const [label, lines, token] = rng.pick(choices);
  return { lines: lines(), token, label };
}

/** Other headers: nothing, junk, too many or too large, malformed lines, and a body on a GET. */
function extras(rng: Rng): { lines: string[]; body: Buffer; label: string } {
  const body = (n: number): Buffer => Buffer.alloc(n, 'b');
  const choices: [string, () => { lines: string[]; body: Buffer }][] = [
    ['plain', () => ({ lines: [], body: body(0) })],
    ['body', () => { const n = rng.int(5000); return { lines: [`Content-Length: ${n}`], body: body(n) }; }],
    ['chunked body', () => ({ lines: ['Transfer-Encoding: chunked'], body: Buffer.from('5\r\nhello\r\n0\r\n\r\n') })],
    ['bad chunks', () => ({ lines: ['Transfer-Encoding: chunked'], body: Buffer.from(rng.pick(['zz\r\nhello\r\n0\r\n\r\n', '5\r\nhelloXX0\r\n\r\n', `${'f'.repeat(30)}\r\n`])) })],
    ['length and chunked', () => ({ lines: ['Content-Length: 5', 'Transfer-Encoding: chunked'], body: Buffer.from('0\r\n\r\n') })],
    ['bad length', () => ({ lines: [`Content-Length: ${rng.pick(['abc', '-1', '1e3', '5, 6', '99999999999999999999'])}`], body: body(0) })],
    ['two lengths', () => ({ lines: ['Content-Length: 3', 'Content-Length: 4'], body: body(4) })],
    ['huge header', () => ({ lines: [`X-Pad: ${'p'.repeat(rng.pick([4000, 17_000, 70_000]))}`], body: body(0) })],
    ['many headers', () => ({ lines: Array.from({ length: rng.pick([100, 1000, 3000]) }, (_, k) => `X-H${k}: v`), body: body(0) })],
    ['no colon', () => ({ lines: ['NoColonHere'], body: body(0) })],
    ['space in name', () => ({ lines: ['Bad Name: x'], body: body(0) })],
    ['folded', () => ({ lines: ['X-A: one', ' folded'], body: body(0) })],
    ['control byte', () => ({ lines: [`X-C: a${rng.pick(['\x00', '\x01', '\x7f', '\r'])}b`], body: body(0) })],
    ['odd content type', () => ({ lines: ['Content-Type: application/json', 'Content-Length: 9'], body: Buffer.from('{"a":1}xx') })],
    ['expect', () => ({ lines: ['Expect: 100-continue', 'Content-Length: 3'], body: body(3) })],
    ['upgrade', () => ({ lines: ['Connection: Upgrade', 'Upgrade: websocket'], body: body(0) })],
  ];
  const [label, make] = rng.chance(0.5) ? choices[0]! : rng.pick(choices);
  return { ...make(), label };
}

/** A case from its own random stream. */
export function makeOpsCase(rng: Rng, tokens: OpsTokens): OpsCase {
  const method = rng.chance(0.6) ? 'GET' : rng.pick(METHODS);
  const auth = authorization(rng, tokens);
  let path = mutatePath(rng);
  if (auth.label === 'in the query') path += `${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(tokens.right)}`;
  const more = extras(rng);
  const version = rng.chance(0.85) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', 'HTTP/9']);
  const host = rng.chance(0.9) ? { lines: ['Host: t'], label: '' } : rng.pick([{ lines: [], label: ' no host' }, { lines: ['Host: t', 'Host: u'], label: ' two hosts' }]);
  const head = [`${method} ${path} ${version}`, ...host.lines, ...auth.lines, ...more.lines].join('\r\n');
  const ending = rng.chance(0.85) ? 'wait' : 'half-close';
  const label = `${method.slice(0, 12)} ${JSON.stringify(path.slice(0, 60))}${path.length > 60 ? `…(${path.length})` : ''} ${version}${host.label} auth=${auth.label} ${more.label} ${ending}`;
  return { label, method, token: auth.token, request: { pieces: [{ data: Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), more.body]) }], ending, timeoutMs: 10_000, head: method === 'HEAD' } };
}

/**
 * Why an outcome breaks the rules, or undefined: a 2xx, a 301 to a path of the same server, or
 * a 4xx with the JSON error shape (501 for a method the parser does not know); metrics never
 * for a wrong or absent token.
 */
export function judgeOps(c: OpsCase, out: RawOutcome): string | undefined {
  if (out.kind === 'aborted' || out.kind === 'closed') return undefined;
  if (out.kind !== 'response') return `${out.kind}${out.kind === 'garbage' ? `: ${out.raw.slice(0, 200)}` : ''}`;
  const type = out.headers['content-type'] ?? '';
  const metrics = /^text\/plain; version=0\.0\.4/.test(type) || /^# (HELP|TYPE) /m.test(out.body.toString());
  if (metrics && (c.token === 'wrong' || c.token === 'none')) return `metrics served with ${c.token === 'none' ? 'no' : 'a wrong'} token (status ${out.status})`;
  if (out.status >= 200 && out.status < 300) return undefined;
  // The public API sends an unclean path (`//x`, `/a/../x`) to its clean form on this server.
  if (out.status === 301 && /^\/(?![/\\])/.test(out.headers.location ?? '')) return undefined;
  // 501 is the answer to a method Node's parser does not know (BREW), in the same JSON shape.
  if ((out.status < 400 || out.status > 499) && out.status !== 501) return `status ${out.status}: ${out.body.toString().slice(0, 200)}`;
  if (!/^application\/json/.test(type)) return `status ${out.status} without JSON (${type || 'no type'}): ${out.body.toString().slice(0, 200)}`;
  if (c.method === 'HEAD' && out.body.length === 0) return undefined;
  try {
    const json = JSON.parse(out.body.toString()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof json.error?.code !== 'string' || typeof json.error.message !== 'string') return `status ${out.status}: not an error object: ${out.body.toString().slice(0, 200)}`;
  } catch {
    return `status ${out.status}: body is not JSON: ${out.body.toString().slice(0, 200)}`;
  }
  return undefined;
}

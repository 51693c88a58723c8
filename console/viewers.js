// The result viewer: text (as text), JSON (pretty, collapsible), zip (entry listing), anything
// else as a hex dump. Results are hostile: every byte is shown through text nodes only.
import { bytes, h, note } from './dom.js';

const HEX_LIMIT = 64 * 1024;
const JSON_OPEN_DEPTH = 2;

/** What kind of content `data` looks like: 'zip', 'json', 'text' or 'binary'. */
export function sniff(data) {
  if (data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && (data[2] === 3 || data[2] === 5) && (data[3] === 4 || data[3] === 6)) return 'zip';
  const text = utf8(data);
  if (text === null) return 'binary';
  const t = text.trim();
  if ((t.startsWith('{') || t.startsWith('[')) && parses(t)) return 'json';
  return 'text';
}

/** The bytes as UTF-8 text, or null if they are not text (invalid UTF-8 or control bytes). */
function utf8(data) {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    // NUL and most C0 controls mean binary; tab, newlines, form feed and ESC are common in text.
    return /[\u0000-\u0008\u000e-\u001a\u001c-\u001f]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

function parses(t) {
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** A viewer element for a result's first bytes (`truncated` when the result is longer). */
export function viewResult(data, truncated) {
  const kind = sniff(data);
  const cut = truncated ? note('info', `Only the first ${bytes(data.length)} are shown; download the result for all of it.`) : null;
  if (kind === 'zip') return h('div', { class: 'viewer', 'data-kind': 'zip' }, cut, zipListing(data, truncated));
  if (kind === 'json') return h('div', { class: 'viewer', 'data-kind': 'json' }, cut, jsonTree(JSON.parse(utf8(data))));
  if (kind === 'text') return h('div', { class: 'viewer', 'data-kind': 'text' }, cut, h('pre', { class: 'text', tabindex: 0 }, utf8(data)));
  return h('div', { class: 'viewer', 'data-kind': 'binary' }, cut, hexDump(data));
}

/** JSON as nested <details>: keyboard-operable, collapsible, every value as text. */
export function jsonTree(value, key = null, depth = 0) {
  const label = key === null ? null : h('span', { class: 'json-key' }, `${JSON.stringify(key)}: `);
  if (value === null || typeof value !== 'object') {
    return h('div', { class: 'json-leaf' }, label, h('span', { class: `json-${value === null ? 'null' : typeof value}` }, JSON.stringify(value)));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  const summary = h('summary', {}, label, `${open} ${entries.length} ${Array.isArray(value) ? 'item' : 'key'}${entries.length === 1 ? '' : 's'} ${close}`);
  return h('details', { class: 'json-node', open: depth < JSON_OPEN_DEPTH },
    summary, h('div', { class: 'json-children' }, entries.map(([k, v]) => jsonTree(v, Array.isArray(value) ? null : k, depth + 1))));
}

/** Offset, hex bytes and printable ASCII, 16 bytes a line. */
export function hexDump(data) {
  const lines = [];
  const shown = data.subarray(0, HEX_LIMIT);
  for (let at = 0; at < shown.length; at += 16) {
    const row = shown.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47, ' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex}  ${ascii}`);
  }
  return h('div', {}, data.length > HEX_LIMIT ? note('info', `The hex view shows the first ${bytes(HEX_LIMIT)}.`) : null,
    h('pre', { class: 'hex', tabindex: 0, 'aria-label': 'Hex dump of the result' }, lines.join('\n')));
}

/** The entries of a zip archive, read from its central directory (nothing is extracted). */
export function zipEntries(data) {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  const count = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  const entries = [];
  const names = new TextDecoder('utf-8');
  for (let n = 0; n < count && at + 46 <= data.length; n++) {
    if (view.getUint32(at, true) !== 0x02014b50) return null;
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    entries.push({
      name: names.decode(data.subarray(at + 46, at + 46 + nameLen)),
      compressed: view.getUint32(at + 20, true),
      size: view.getUint32(at + 24, true),
    });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function zipListing(data, truncated) {
  const entries = truncated ? null : zipEntries(data);
  if (!entries) return h('div', {}, note('info', truncated ? 'A zip archive too large to list here; download it.' : 'A zip archive whose directory cannot be read.'), hexDump(data));
  if (entries.length === 0) return note('empty', 'An empty zip archive.');
  return h('table', { class: 'zip' }, h('caption', {}, `Zip archive: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col', class: 'num' }, 'Compressed'))),
    h('tbody', {}, entries.map((e) => h('tr', {}, h('td', { class: 'filename' }, e.name), h('td', { class: 'num' }, bytes(e.size)), h('td', { class: 'num' }, bytes(e.compressed))))));
}

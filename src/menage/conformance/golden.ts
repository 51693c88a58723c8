import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

/** What kind of result an engine writes. */
export type ResultKind = 'json' | 'text' | 'zip';

/**
 * One golden case: `golden/<case>/input` (or a file the image itself ships, `fromImage`) and
 * `golden/<case>/expect.json` saying what the result must hold (docs/engines.md).
 */
export interface GoldenCase {
  name: string;
  /** A file in the source tree, or absent when the input comes from the image. */
  input?: string;
  /** The input's bytes, when the case itself came out of the image (/engine/golden). */
  inputData?: Buffer;
  fromImage?: string;
  result: ResultKind;
  /** json: every field here must be in the result with this value (objects match as subsets). */
  json?: unknown;
  /** text: the exact result. */
  text?: string;
  /** zip: entries the result must hold. */
  zipEntries?: string[];
}

/** Reads the golden cases of an engine folder (`<dir>/golden/*`); none when there is no folder. */
export async function loadGolden(dir: string): Promise<GoldenCase[]> {
  const root = join(dir, 'golden');
  if (!existsSync(root)) return [];
  const cases: GoldenCase[] = [];
  for (const entry of (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isDirectory()) continue;
    const file = join(root, entry.name, 'expect.json');
    const expect = parseExpect(await readFile(file, 'utf8'), file);
    const input = join(root, entry.name, 'input');
    if (!expect.fromImage && !existsSync(input)) throw new Error(`${join(root, entry.name)}: no input file and no "fromImage"`);
    cases.push({ ...expect, name: entry.name, ...(expect.fromImage ? {} : { input }) });
  }
  return cases;
}

/** The golden cases of files read out of an image (`golden/<case>/expect.json` and `input`, by name). */
export function goldenFromFiles(files: ReadonlyMap<string, Buffer>, where: string): GoldenCase[] {
  const names = [...files.keys()].map((n) => /^golden\/([^/]+)\/expect\.json$/.exec(n)?.[1]).filter((n): n is string => n !== undefined).sort();
  return names.map((name) => {
    const expect = parseExpect((files.get(`golden/${name}/expect.json`) as Buffer).toString('utf8'), `${where}/golden/${name}/expect.json`);
    const inputData = files.get(`golden/${name}/input`);
    if (!expect.fromImage && !inputData) throw new Error(`${where}/golden/${name}: no input file and no "fromImage"`);
    return { ...expect, name, ...(expect.fromImage ? {} : { inputData }) };
  });
}

function parseExpect(text: string, file: string): Omit<GoldenCase, 'name' | 'input'> {
  const expect = JSON.parse(text) as Omit<GoldenCase, 'name' | 'input'>;
  if (!['json', 'text', 'zip'].includes(expect.result)) throw new Error(`${file}: "result" must be json, text or zip`);
  return expect;
}

/** Why a result does not match its golden case; undefined when it does. */
export function mismatch(golden: GoldenCase, result: Buffer): string | undefined {
  const invalid = validity(golden.result, result);
  if (invalid) return invalid;
  if (golden.result === 'text' && golden.text !== undefined && result.toString('utf8') !== golden.text) {
    return `expected ${JSON.stringify(golden.text)}, got ${JSON.stringify(result.toString('utf8').slice(0, 200))}`;
  }
  if (golden.result === 'json' && golden.json !== undefined) {
    const where = subsetMismatch(golden.json, JSON.parse(result.toString('utf8')), '');
    if (where) return `result differs at ${where}`;
  }
  if (golden.result === 'zip' && golden.zipEntries) {
    const names = new Set(zipNames(result));
    const missing = golden.zipEntries.filter((n) => !names.has(n));
    if (missing.length) return `the zip lacks ${missing.join(', ')}`;
  }
  return undefined;
}

/** Why a result is not a well-formed result of its kind (JSON with a schema field, a zip, text). */
export function validity(kind: ResultKind, result: Buffer): string | undefined {
  if (kind === 'json') {
    try {
      const doc = JSON.parse(result.toString('utf8')) as { schema?: unknown };
      return typeof doc?.schema === 'string' ? undefined : 'the JSON result has no "schema" field';
    } catch {
      return 'the result is not JSON';
    }
  }
  if (kind === 'zip') {
    try {
      zipNames(result);
      return undefined;
    } catch (err) {
      return `the result is not a zip: ${(err as Error).message}`;
    }
  }
  return undefined;
}

/** JSON pointer of the first place `actual` lacks what `expected` holds. */
function subsetMismatch(expected: unknown, actual: unknown, at: string): string | undefined {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return at || '/';
    for (const [k, v] of Object.entries(expected)) {
      const where = subsetMismatch(v, (actual as Record<string, unknown>)[k], `${at}/${k}`);
      if (where) return where;
    }
    return undefined;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return at || '/';
    for (let i = 0; i < expected.length; i++) {
      const where = subsetMismatch(expected[i], actual[i], `${at}/${i}`);
      if (where) return where;
    }
    return undefined;
  }
  return isDeepStrictEqual(expected, actual) ? undefined : at || '/';
}

/** The entry names of a zip, from its central directory. */
export function zipNames(zip: Buffer): string[] {
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) { end = i; break; }
  }
  if (end < 0) throw new Error('no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  const names: string[] = [];
  for (let i = 0, at = zip.readUInt32LE(end + 16); i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== 0x02014b50) throw new Error('a broken central directory');
    const n = zip.readUInt16LE(at + 28);
    names.push(zip.subarray(at + 46, at + 46 + n).toString('utf8'));
    at += 46 + n + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
}

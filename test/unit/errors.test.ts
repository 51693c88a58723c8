import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, ERRORS, InvalidError, invalidJobId, type ErrorCode } from '../../src/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Codes that src/ hands to error constructors, compares answers with, or maps statuses to. */
function codesUsed(): Map<string, string> {
  const found = new Map<string, string>();
  const patterns = [
    /new [A-Za-z]*Error\(\s*'([A-Z][A-Z0-9_]+)'/g, // new AppError('X', ...), new InvalidError('X', ...)
    /\?\s*'([A-Z][A-Z0-9_]{3,})'\s*:\s*'([A-Z][A-Z0-9_]{3,})'/g, // const why = c ? 'X' : 'Y'
    /error\??\.code\s*===?\s*'([A-Z][A-Z0-9_]+)'/g, // answer.error.code === 'X'
    /\[\d{3}, '([A-Z][A-Z0-9_]+)'/g, // status tables: [501, 'X', ...]
    /\d{3}: '([A-Z][A-Z0-9_]+)'/g, // { 404: 'X' }
  ];
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) for (const code of m.slice(1)) if (code) found.set(code, file.slice(ROOT.length));
  }
  return found;
}

describe('errors: the catalogue', () => {
  it('every code src/ uses is in the catalogue', () => {
    const used = codesUsed();
    expect(used.size, 'the scan finds the codes in use').to.be.greaterThan(15);
    const missing = [...used].filter(([code]) => !(code in ERRORS)).map(([code, file]) => `${code} (${file})`);
    expect(missing).to.deep.equal([]);
  });

  it('every catalogue code is used somewhere (no dead entries)', () => {
    const used = new Set(codesUsed().keys());
    const text = sources(join(ROOT, 'src')).map((f) => readFileSync(f, 'utf8')).join('\n');
    const dead = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => !used.has(c) && !text.includes(`'${c}'`));
    expect(dead).to.deep.equal([]);
  });

  it("README's error table lists every public code under its status", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const rows = new Map<number, string>();
    for (const m of readme.matchAll(/^\| (\d{3}) \| (.*) \|$/gm)) rows.set(Number(m[1]), `${rows.get(Number(m[1])) ?? ''} ${m[2]}`);
    const missing = (Object.entries(ERRORS) as [ErrorCode, { status: number; public: boolean }][])
      .filter(([code, e]) => e.public && !(rows.get(e.status) ?? '').includes(`\`${code}\``)).map(([code, e]) => `${e.status} ${code}`);
    expect(missing).to.deep.equal([]);
  });

  it('the status comes from the catalogue; INVALID_JOB_ID is built one way', () => {
    expect(new AppError('JOB_BUSY', 'x').status).to.equal(409);
    const e = invalidJobId('../etc');
    expect(e).to.be.instanceOf(InvalidError);
    expect([e.status, e.code, e.message]).to.deep.equal([400, 'INVALID_JOB_ID', '"../etc" is not a job id (a positive integer)']);
  });
});

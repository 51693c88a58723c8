import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mismatch, validity, zipNames, type GoldenCase } from '../../../src/menage/conformance/golden.js';
import { writeZip } from '../../../src/menage/conformance/zip.js';
import { pinOf } from '../../../src/menage/conformance/commands.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('menage: conformance kit, golden matching', () => {
  const golden: GoldenCase = { name: 'g', result: 'json', json: { schema: 's/1', hits: [{ offset: 4 }], meta: { a: 1 } } };
  const cases: [string, Buffer, string | undefined][] = [
    ['the same document', json({ schema: 's/1', hits: [{ offset: 4 }], meta: { a: 1 } }), undefined],
    ['extra fields (objects match as subsets)', json({ schema: 's/1', hits: [{ offset: 4, d: 'x' }], meta: { a: 1, b: 2 }, more: true }), undefined],
    ['a different value', json({ schema: 's/1', hits: [{ offset: 5 }], meta: { a: 1 } }), 'result differs at /hits/0/offset'],
    ['an extra array element', json({ schema: 's/1', hits: [{ offset: 4 }, { offset: 9 }], meta: { a: 1 } }), 'result differs at /hits'],
    ['a missing field', json({ schema: 's/1', hits: [{ offset: 4 }] }), 'result differs at /meta'],
    ['no schema field', json({ hits: [] }), 'the JSON result has no "schema" field'],
    ['not JSON', Buffer.from('{'), 'the result is not JSON'],
  ];
  for (const [what, result, expected] of cases) {
    it(`json: ${what}`, () => {
      expect(mismatch(golden, result)).to.equal(expected);
    });
  }

  it('text results must match exactly', () => {
    const g: GoldenCase = { name: 't', result: 'text', text: 'abc\n' };
    expect(mismatch(g, Buffer.from('abc\n'))).to.equal(undefined);
    expect(mismatch(g, Buffer.from('abc'))).to.match(/^expected/);
  });

  it('zip results must hold the listed entries; a non-zip is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kit-unit-'));
    try {
      await writeZip(join(dir, 'z.zip'), [{ name: 'a.txt', chunks: () => [Buffer.from('x')] }, { name: 'res/b.xml', chunks: () => [Buffer.alloc(0)] }]);
      const zip = await readFile(join(dir, 'z.zip'));
      expect(zipNames(zip)).to.deep.equal(['a.txt', 'res/b.xml']);
      expect(mismatch({ name: 'z', result: 'zip', zipEntries: ['res/b.xml'] }, zip)).to.equal(undefined);
      expect(mismatch({ name: 'z', result: 'zip', zipEntries: ['c'] }, zip)).to.equal('the zip lacks c');
      expect(validity('zip', Buffer.from('not a zip'))).to.match(/not a zip/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the tag and digest an image reference pins', () => {
    expect(pinOf('menagerie/yara:1.0.0')).to.deep.equal({ tag: '1.0.0' });
    expect(pinOf('reg:5443/menagerie/yara')).to.deep.equal({ tag: 'latest' });
    expect(pinOf('reg:5443/yara:2@sha256:ab')).to.deep.equal({ tag: '2', digest: 'sha256:ab' });
  });
});

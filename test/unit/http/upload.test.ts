import { expect } from 'chai';
import { cleanName } from '../../../src/http/upload.js';

describe('http: upload file names', () => {
  const cases: [string | undefined, string][] = [
    ['sample.apk', 'sample.apk'], [undefined, 'upload'], ['', 'upload'], ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\x\\evil.doc', 'evil.doc'], ['a\u0000b\nc', 'abc'], ['é'.repeat(300), 'é'.repeat(255)],
  ];
  for (const [input, want] of cases) it(`${JSON.stringify(input)?.slice(0, 30)} → ${want.slice(0, 20)}`, () => expect(cleanName(input)).to.equal(want));
});

import { expect } from 'chai';
import { encodeCursor, parseListQuery, parseTime } from '../../../src/api/list-params.js';
import { AppError } from '../../../src/errors.js';

const refused = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof AppError) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'accepted';
};

describe('api/list-params: GET /api/v1/jobs parameters', () => {
  it('reads every filter; sha256 is lower-cased, statuses deduplicated', () => {
    const q = parseListQuery({ engine: 'md5', status: 'Fail,Success,Fail', filename: 'a b.exe', sha256: 'A'.repeat(64),
      created_after: '2026-01-01', created_before: '2026-01-02T10:00:00+02:00', limit: '7' }, undefined);
    expect(q).to.deep.equal({ engine: 'md5', statuses: ['Fail', 'Success'], filename: 'a b.exe', sha256: 'a'.repeat(64),
      createdAfter: new Date('2026-01-01T00:00:00Z'), createdBefore: new Date('2026-01-02T08:00:00Z'), limit: 7 });
    expect(parseListQuery({}, undefined)).to.deep.equal({ limit: 50 });
  });

  for (const [name, value, outcome] of [
    ['limit', '0', '400 INVALID_PARAMETER'], ['limit', '200', 'accepted'], ['limit', '201', '400 INVALID_PARAMETER'], ['limit', '1.5', '400 INVALID_PARAMETER'],
    ['status', 'Fail,', '400 INVALID_PARAMETER'], ['status', 'fail', '400 INVALID_PARAMETER'], ['sha256', 'g'.repeat(64), '400 INVALID_PARAMETER'],
    ['created_after', '2026-13-01', '400 INVALID_PARAMETER'], ['created_after', '2026-02-29', '400 INVALID_PARAMETER'], ['created_after', '2028-02-29', 'accepted'],
    ['created_after', '2026-01-01T10:00Z', 'accepted'], ['created_after', '2026-01-01T25:00:00Z', '400 INVALID_PARAMETER'], ['created_after', '1700000000', '400 INVALID_PARAMETER'],
    ['engine', 'MD5', '400 INVALID_PARAMETER'], ['filename', 'x'.repeat(256), '400 INVALID_PARAMETER'], ['owner', 'alice', '400 INVALID_PARAMETER'],
    ['cursor', '!!', '400 INVALID_CURSOR'], ['cursor', Buffer.from('{"v":1,"id":"01","f":"x"}').toString('base64url'), '400 INVALID_CURSOR'],
  ] as const) {
    it(`${name}=${value.slice(0, 30)}: ${outcome}`, () => {
      expect(refused(() => parseListQuery({ [name]: value }, undefined))).to.equal(outcome);
    });
  }

  it('a cursor works only with the filters and the scope it was made for', () => {
    const filter = { engine: 'md5', statuses: ['Fail', 'Success'] as const };
    const cursor = encodeCursor('42', { ...filter, statuses: [...filter.statuses] }, 'alice');
    expect(parseListQuery({ engine: 'md5', status: 'Success,Fail', cursor, limit: '5' }, 'alice').beforeId).to.equal('42');
    expect(refused(() => parseListQuery({ engine: 'md5', status: 'Success', cursor }, 'alice'))).to.equal('400 INVALID_CURSOR');
    expect(refused(() => parseListQuery({ engine: 'md5', status: 'Success,Fail', cursor }, 'bob'))).to.equal('400 INVALID_CURSOR');
    expect(refused(() => parseListQuery({ engine: 'md5', status: 'Success,Fail', cursor }, undefined))).to.equal('400 INVALID_CURSOR');
  });

  it('a time without a zone is refused rather than guessed', () => {
    expect(refused(() => parseTime('t', '2026-01-01T10:00:00'))).to.equal('400 INVALID_PARAMETER');
    expect(parseTime('t', '2026-01-01T10:00:00.123456Z').toISOString()).to.equal('2026-01-01T10:00:00.123Z');
  });
});

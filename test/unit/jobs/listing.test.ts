import { expect } from 'chai';
import { chooseIndex, pageStatement, type JobFilter } from '../../../src/jobs/listing.js';

describe('jobs/listing: which index a filter walks', () => {
  const sha = 'a'.repeat(64);
  for (const [filter, index] of [
    [{}, 'PRIMARY'], [{ engine: 'e' }, 'jobs_engine'], [{ statuses: ['Fail'] }, 'jobs_status'],
    [{ engine: 'e', statuses: ['Fail', 'Running'] }, 'jobs_engine_status'], [{ owner: 'o' }, 'jobs_owner'],
    [{ owner: 'o', statuses: ['Fail'] }, 'jobs_owner_status'], [{ owner: 'o', engine: 'e' }, 'jobs_owner_engine'],
    [{ owner: 'o', engine: 'e', statuses: ['Fail'] }, 'jobs_owner_engine_status'], [{ owner: 'o', engine: 'e', sha256: sha }, 'jobs_sha256'],
    [{ filename: 'f', statuses: ['Fail'] }, 'jobs_filename'], [{ createdAfter: new Date(0) }, 'PRIMARY'],
  ] as [JobFilter, string][]) {
    it(`${JSON.stringify(filter)} → ${index}`, () => {
      expect(chooseIndex(filter).name).to.equal(index);
    });
  }

  it('merges one walk per status when the index holds the status', () => {
    const s = pageStatement({ engine: 'e', statuses: ['Fail', 'Success'], limit: 10, beforeId: '99' });
    expect(s.sql).to.match(/^SELECT \* FROM \(\(SELECT .* FORCE INDEX \(jobs_engine_status\) .* UNION ALL \(SELECT .*\)\) AS page ORDER BY id DESC LIMIT \?$/);
    expect(s.params).to.deep.equal(['e', 'Fail', '99', 10, 'e', 'Success', '99', 10, 10]);
  });

  it('filters the other statuses as rows of a more selective index', () => {
    const s = pageStatement({ sha256: sha, statuses: ['Fail', 'Success'], limit: 10 }, { below: '7', above: '3' });
    expect(s.sql).to.equal('SELECT * FROM jobs FORCE INDEX (jobs_sha256) WHERE sha256 = ? AND status IN (?) AND id < ? AND id > ? ORDER BY id DESC LIMIT ?');
    expect(s.params).to.deep.equal([sha, ['Fail', 'Success'], '7', '3', 10]);
  });
});

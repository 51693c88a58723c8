import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canApply, isJobId, isTerminal, STATUSES, TERMINAL, TRANSITIONS, type JobEvent, type JobStatus } from '../../../src/jobs/job.js';
import { summarize } from '../../../src/jobs/summary.js';

describe('jobs: state transitions', () => {
  const table: [JobEvent, JobStatus, boolean][] = [
    ['start', 'Received', true], ['start', 'Running', true], ['start', 'Success', false], ['start', 'Fail', false],
    ['requeue', 'Received', true], ['requeue', 'Running', false], ['requeue', 'Success', false],
    ['release', 'Running', true], ['release', 'Received', false], ['release', 'Fail', false],
    ['succeed', 'Running', true], ['succeed', 'Received', false], ['succeed', 'Success', false], ['succeed', 'Fail', false],
    ['fail', 'Running', true], ['fail', 'Received', false], ['fail', 'Success', false],
    ['force-fail', 'Received', true], ['force-fail', 'Running', true], ['force-fail', 'Success', false], ['force-fail', 'Fail', false],
  ];
  for (const [event, from, allowed] of table) {
    it(`${event} from ${from}: ${allowed ? 'allowed' : 'refused'}`, () => {
      expect(canApply(event, from)).to.equal(allowed);
    });
  }
  it('nothing leaves a terminal state', () => {
    for (const status of STATUSES.filter(isTerminal)) {
      for (const event of Object.keys(TRANSITIONS) as JobEvent[]) expect(canApply(event, status), `${event} ${status}`).to.equal(false);
    }
  });
});

describe('jobs: ids', () => {
  const cases: [string, boolean][] = [['1', true], ['42', true], ['999999999999999999', true], ['0', false], ['01', false],
    ['-1', false], ['1.0', false], ['abc', false], ['', false], ['1 ', false], ['9999999999999999999', false]];
  for (const [id, ok] of cases) it(`"${id}" is ${ok ? '' : 'not '}a job id`, () => expect(isJobId(id)).to.equal(ok));
});

describe('jobs: summary', () => {
  const cases: [string, Buffer, string][] = [
    ['short text kept whole', Buffer.from('abc\n'), 'abc\n'],
    ['empty stays empty', Buffer.alloc(0), ''],
    ['cut at 80 bytes', Buffer.from('x'.repeat(100)), 'x'.repeat(80)],
    ['a 2-byte character cut at byte 80 is dropped', Buffer.from(`${'x'.repeat(79)}é`), 'x'.repeat(79)],
    ['a 3-byte character cut at byte 80 is dropped', Buffer.from(`${'x'.repeat(78)}€`), 'x'.repeat(78)],
    ['a 4-byte character cut at byte 80 is dropped', Buffer.from(`${'x'.repeat(77)}😀`), 'x'.repeat(77)],
    ['a character ending at byte 80 is kept', Buffer.from(`${'x'.repeat(78)}é`), `${'x'.repeat(78)}é`],
    ['invalid bytes become U+FFFD', Buffer.from([0x61, 0xff, 0x62]), 'a\uFFFDb'],
  ];
  for (const [name, input, want] of cases) {
    it(name, () => {
      const got = summarize(input);
      expect(got).to.equal(want);
      expect(Buffer.byteLength(got)).to.be.at.most(80 + 2);
    });
  }
});

describe('jobs: statuses are named in one place', () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const sources = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
  // The contract holds the wire names; shipped migrations are history and never edited.
  const allowed = new Set(['src/contract/ids.ts', 'src/jobs/migrations.ts']);

  it('no file in src/ spells a status as a string literal (SQL included): they use STATUS, TERMINAL, isTerminal', () => {
    const offenders: string[] = [];
    for (const file of sources(join(root, 'src'))) {
      const rel = file.slice(root.length);
      if (allowed.has(rel)) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/'(Received|Running|Success|Fail)'/g)) offenders.push(`${rel}: ${m[0]}`);
    }
    expect(offenders).to.deep.equal([]);
  });

  it('the terminal statuses are exactly those no transition leaves', () => {
    const left = new Set(Object.values(TRANSITIONS).flatMap((t) => t.from));
    expect(STATUSES.filter((s) => !left.has(s))).to.deep.equal([...TERMINAL]);
    expect(STATUSES.filter(isTerminal)).to.deep.equal([...TERMINAL]);
  });
});

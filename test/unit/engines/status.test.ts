import { expect } from 'chai';
import { EngineStatusBoard } from '../../../src/engines/status.js';

describe('engines/status: what menage nodes report', () => {
  let now = 0;
  const board = (): EngineStatusBoard => new EngineStatusBoard(60_000, () => now);
  const report = (digest: string | null, busy = 0, total = 2) => ({ name: 'md5', digest, busy, total });

  it('knows nothing before a report: digest and slots are null', () => {
    now = 0;
    const b = board();
    expect([b.digest('md5'), b.slots('md5')]).to.deep.equal([null, null]);
  });

  it('sums slots over live nodes and gives the digest they agree on', () => {
    now = 1000;
    const b = board();
    b.report({ node: 'a', engines: [report('sha256:1', 1, 2)] });
    b.report({ node: 'b', engines: [report('sha256:1', 2, 4)] });
    expect(b.digest('md5')).to.equal('sha256:1');
    expect(b.slots('md5')).to.deep.equal({ busy: 3, total: 6 });
    expect(b.digest('yara')).to.equal(null);
  });

  it('nodes that disagree (a rolling image update) or do not know give no digest', () => {
    now = 1000;
    const b = board();
    b.report({ node: 'a', engines: [report('sha256:1')] });
    b.report({ node: 'b', engines: [report('sha256:2')] });
    expect(b.digest('md5')).to.equal(null);
    b.report({ node: 'b', engines: [report(null)] });
    expect(b.digest('md5')).to.equal(null);
    b.report({ node: 'b', engines: [report('sha256:1')] });
    expect(b.digest('md5')).to.equal('sha256:1');
  });

  it('a node silent for longer than the staleness window no longer counts', () => {
    now = 0;
    const b = board();
    b.report({ node: 'a', engines: [report('sha256:old')] });
    now = 30_000;
    b.report({ node: 'b', engines: [report('sha256:new', 1, 3)] });
    expect(b.digest('md5')).to.equal(null);
    now = 61_000;
    expect([b.digest('md5'), b.slots('md5')]).to.deep.equal(['sha256:new', { busy: 1, total: 3 }]);
    now = 100_000;
    expect([b.digest('md5'), b.slots('md5')]).to.deep.equal([null, null]);
  });
});

import { expect } from 'chai';
import type { EnginesReport } from '../../../src/contract/index.js';
import type { Engine } from '../../../src/engines/engines.js';
import { EngineReporter } from '../../../src/menage/engine-reporter.js';
import { memoryLog } from '../../support/log.js';

describe('menage/engine-reporter: image ids and slots to the frontend', () => {
  const engines = [{ name: 'md5', image: 'menagerie/md5:latest', workers: 2 }, { name: 'gone', image: 'x/gone:1', workers: 1 }] as Engine[];

  it('reports each engine\'s image id (null if Docker does not know it) and busy slots; a failed report is logged once and retried', async () => {
    const sent: EnginesReport[] = [];
    const lines: string[] = [];
    let down = true;
    const reporter = new EngineReporter({
      engines: () => engines, node: 'node-1', intervalMs: 60_000, log: memoryLog(lines),
      imageId: async (image) => {
        if (image === 'x/gone:1') throw new Error('no such image');
        return 'sha256:abc';
      },
      busy: (name) => (name === 'md5' ? 1 : 0),
      send: async (r) => {
        if (down) throw new Error('frontend unreachable');
        sent.push(r);
      },
    });
    await reporter.report();
    await reporter.report();
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^engine report failed/);
    down = false;
    await reporter.report();
    expect(sent).to.deep.equal([{ node: 'node-1', engines: [
      { name: 'md5', digest: 'sha256:abc', busy: 1, total: 2 }, { name: 'gone', digest: null, busy: 0, total: 1 }] }]);
    expect(lines[1]).to.match(/^engine report: delivered again /);
    reporter.close();
    reporter.close();
  });
});

import { expect } from 'chai';
import type { Engine } from '../../../src/engines/engines.js';
import { describeChanges, EngineRegistry } from '../../../src/engines/registry.js';

const engine = (name: string, image = `menagerie/${name}:1.0.0`, workers = 1): Engine => ({
  name, workers, image, cmd: ['/engine/run'], mountpoint: '/data', sizelimit: 1024, inputfilename: 'sample', user: '65534:65534',
  timeoutMs: 1000, containment: { network: 'none', readonly: true, memoryBytes: 1, nanoCpus: 1, pids: 1, tmpfs: {}, resultLimit: 1, logLimit: 1 },
});

describe('engines: registry (reload while running)', () => {
  const cases: [string, Engine[], Engine[], string][] = [
    ['nothing changed', [engine('a')], [engine('a')], 'no change'],
    ['an engine added', [engine('a')], [engine('a'), engine('b')], '+b (menagerie/b:1.0.0)'],
    ['an engine removed', [engine('a'), engine('b')], [engine('a')], '-b'],
    ['a new version', [engine('a')], [engine('a', 'menagerie/a:1.1.0')], '~a (menagerie/a:1.0.0 -> menagerie/a:1.1.0)'],
    ['new settings, same image', [engine('a')], [engine('a', undefined, 4)], '~a (settings)'],
  ];
  for (const [what, before, after, expected] of cases) {
    it(`tells ${what}`, () => {
      expect(describeChanges(new EngineRegistry(before).diff(after))).to.equal(expected);
    });
  }

  it('a removed engine takes no uploads but stays known for the jobs it still runs', () => {
    const r = new EngineRegistry([engine('a'), engine('b')]);
    r.apply([engine('a')]);
    expect(r.active('b')).to.equal(undefined);
    expect(r.get('b')?.name).to.equal('b');
    expect(r.list().map((e) => e.name)).to.deep.equal(['a']);
  });

  it('an engine added back is active again, at its new version', () => {
    const r = new EngineRegistry([engine('a'), engine('b')]);
    r.apply([engine('a')]);
    r.apply([engine('a'), engine('b', 'menagerie/b:2.0.0')]);
    expect(r.active('b')?.image).to.equal('menagerie/b:2.0.0');
    expect(r.get('b')?.image).to.equal('menagerie/b:2.0.0');
  });

  it('jobs of a replaced version see the new version (leases and limits follow engines.json)', () => {
    const r = new EngineRegistry([engine('a')]);
    r.apply([engine('a', 'menagerie/a:2.0.0')]);
    expect(r.get('a')?.image).to.equal('menagerie/a:2.0.0');
  });
});

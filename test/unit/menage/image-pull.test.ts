import { expect } from 'chai';
import type Docker from 'dockerode';
import type { Engine } from '../../../src/engines/engines.js';
import { ConfigError } from '../../../src/errors.js';
import { ensureImages, PULLS_AT_ONCE } from '../../../src/menage/image-pull.js';
import { memoryLog } from '../../support/log.js';

/** A Docker engine that has none of the images, pulls each in `ms` and fails the pull of `bad`. */
function slowDocker(ms: number, bad: Set<string>) {
  const have = new Set<string>();
  const counts = { inFlight: 0, most: 0 };
  const docker = {
    getImage: (ref: string) => ({ inspect: async () => { if (!have.has(ref)) throw Object.assign(new Error('no such image'), { statusCode: 404 }); } }),
    pull: async (ref: string) => {
      counts.most = Math.max(counts.most, ++counts.inFlight);
      await new Promise((r) => setTimeout(r, ms));
      counts.inFlight--;
      if (bad.has(ref)) throw new Error(`pull access denied for ${ref}`);
      have.add(ref);
      return ref;
    },
    modem: { followProgress: (_s: unknown, done: (err: Error | null, out: unknown[]) => void) => done(null, []) },
  };
  return { docker: docker as unknown as Docker, counts };
}

describe('menage/image-pull: the engines\' images at start-up', () => {
  const engines = Array.from({ length: 10 }, (_, i) => ({ name: `e${i}`, image: `reg.example/e${i}:1`, workers: 1 }) as Engine);

  it(`pulls ${PULLS_AT_ONCE} images at once, never more, and gets them all`, async () => {
    const { docker, counts } = slowDocker(20, new Set());
    await ensureImages(docker, engines, 'engines.json', memoryLog([]));
    expect(counts.most).to.equal(PULLS_AT_ONCE);
    for (const e of engines) await docker.getImage(e.image).inspect();
  });

  it('lets every pull finish, then names each image that could not be had, in the engines\' order', async () => {
    const { docker, counts } = slowDocker(5, new Set(['reg.example/e7:1', 'reg.example/e2:1']));
    const err = await ensureImages(docker, engines, 'engines.json', memoryLog([])).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.message)).to.deep.equal([
      'engine "e2": image reg.example/e2:1 is not present and could not be pulled: pull access denied for reg.example/e2:1',
      'engine "e7": image reg.example/e7:1 is not present and could not be pulled: pull access denied for reg.example/e7:1',
    ]);
    expect(counts.inFlight).to.equal(0);
    await docker.getImage('reg.example/e9:1').inspect();
  });
});

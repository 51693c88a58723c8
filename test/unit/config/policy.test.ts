import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';
import { checkPolicy } from '../../../src/menage.js';

describe('menage: policy gate at start-up', () => {
  let dir: string;
  const engine = { name: 'md5', image: 'menagerie/md5:latest', cmd: '/engine/run', mountpoint: '/data',
    sizelimit: 100, inputfilename: 'sample', timeout: 10 };
  const configWith = async (engines: unknown[]): Promise<ReturnType<typeof loadConfig>> => {
    await writeFile(join(dir, 'engines.json'), JSON.stringify({ engines }));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } }));
    return loadConfig(join(dir, 'config.json'), {});
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-policy-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the shipped engines and the hardened defaults', async () => {
    expect(() => checkPolicy(loadConfigFromRepo())).to.not.throw();
    checkPolicy(await configWith([engine]));
  });

  it('refuses an engine whose settings break a rule, naming engine and rule', async () => {
    const config = await configWith([engine, { ...engine, name: 'loose', readonly: false }]);
    try {
      checkPolicy(config);
      expect.fail('should have refused');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).to.have.length(1);
      expect(problems[0]?.pointer).to.equal('/engines/1');
      expect(problems[0]?.message).to.match(/engine "loose" breaks policy .*engines\.json: readonly-rootfs/);
    }
  });
});

function loadConfigFromRepo(): ReturnType<typeof loadConfig> {
  return loadConfig(join(process.cwd(), 'test', 'unit', 'config', 'fixtures', 'config.json'), {});
}

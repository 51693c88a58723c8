import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../src/config/config.js';
import { checkPolicy } from '../../../src/menage.js';

const enginesFile = fileURLToPath(new URL('../../../../engines/engines.json', import.meta.url));

describe('engines: the shipped engines.json', () => {
  it('loads without a problem and every engine passes the shipped container policy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shipped-'));
    try {
      await writeFile(join(dir, 'config.json'), JSON.stringify({ internalToken: 'x'.repeat(32), rabbitmq: { url: 'amqp://h', prefix: 'p' }, engines: enginesFile }));
      const config = loadConfig(join(dir, 'config.json'), {});
      expect(config.engines.map((e) => e.name)).to.deep.equal(['md5', 'apktool', 'yara', 'exiftool', 'triage', 'pe', 'ole', 'binwalk']);
      expect(() => checkPolicy(config)).to.not.throw();
      for (const e of config.engines) expect(e.image, e.name).to.match(/^menagerie\/[a-z0-9]+:\d+\.\d+\.\d+$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

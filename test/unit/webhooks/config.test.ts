import { expect } from 'chai';
import type { Config } from '../../../src/config/config.js';
import { webhooksSecret } from '../../../src/frontend.js';

describe('webhooks: configuration', () => {
  const config = (webhooks: Partial<Config['webhooks']>): Config =>
    ({ webhooks: { allowedPrefixes: [], maxAttempts: 10, timeoutSeconds: 10, firstRetrySeconds: 5, ...webhooks } }) as unknown as Config;

  it('callbacks allowed need a secret: the frontend refuses to start without one, naming the key', () => {
    expect(() => webhooksSecret(config({ allowedPrefixes: ['https://hooks.example/'] }))).to.throw(/webhooks\.secret/)
      .with.property('code', 'CONFIG_INVALID');
    expect(webhooksSecret(config({ allowedPrefixes: ['https://hooks.example/'], secret: 's'.repeat(32) }))).to.equal('s'.repeat(32));
  });

  it('no prefixes: no dispatcher (undefined), secret or not', () => {
    expect(webhooksSecret(config({}))).to.equal(undefined);
    expect(webhooksSecret(config({ secret: 's'.repeat(32) }))).to.equal(undefined);
  });
});

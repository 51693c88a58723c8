import { expect } from 'chai';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { loadEnforcerConfig, parseEnforcerConfig } from '../../../src/enforcer/config.js';
import { loadRules } from '../../../src/enforcer/rules.js';
import { ROOT } from './helpers.js';

describe('enforcer config', () => {
  it('loads the shipped appliance config: events + 60 s scans, API on 127.0.0.1:8888, KILL for managed containers', () => {
    const c = loadEnforcerConfig(join(ROOT, 'enforcer/config.json'), {});
    expect(c.events).to.equal(true);
    expect(c.periodic).to.deep.equal({ intervalSeconds: 60, immediate: true });
    expect(c.api?.listen).to.deep.equal({ host: '127.0.0.1', port: 8888 });
    expect(c.mode).to.deep.equal({ default: 'warn', overrides: [{ label: 'org.menagerie.managed', value: 'true', mode: 'kill' }] });
    expect(c.rulesFile).to.equal(join(ROOT, 'enforcer/rules/engines.json'));
    expect(loadRules(c.rulesFile).rules.length).to.be.greaterThan(5);
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it('lists every problem at once', () => {
    try {
      parseEnforcerConfig({ rulesFile: 'r.json', api: { listen: { host: '0.0.0.0', port: 8888 } }, mode: { default: 'nuke' }, stats: { concurrency: 0 } }, 'c.json');
      expect.fail('should refuse');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      const text = (err as ConfigError).problems.map((p) => `${p.pointer}: ${p.message}`).join('\n');
      expect(text).to.include('/mode/default').and.include('/stats/concurrency');
    }
  });

  it('refuses an API beyond loopback without a token, and a config with no source', () => {
    expect(() => parseEnforcerConfig({ rulesFile: 'r.json', events: true, api: { listen: { host: '0.0.0.0', port: 8888 } } }, 'c.json')).to.throw(ConfigError, /needs a token/);
    expect(() => parseEnforcerConfig({ rulesFile: 'r.json' }, 'c.json')).to.throw(ConfigError, /at least one of periodic, events, authz/);
    const ok = parseEnforcerConfig({ rulesFile: 'r.json', events: true, api: { listen: { host: '0.0.0.0', port: 8888 }, token: 'x'.repeat(32) } }, '/etc/m/c.json');
    expect(ok.rulesFile).to.equal('/etc/m/r.json');
  });
});

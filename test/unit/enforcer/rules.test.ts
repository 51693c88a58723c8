import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors.js';
import { evaluate } from '../../../src/enforcer/evaluate.js';
import { loadRules, parseRules } from '../../../src/enforcer/rules.js';
import { model } from './helpers.js';

function problemsOf(raw: unknown): string[] {
  try {
    parseRules(raw, 'r.json');
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems.map((p) => `${p.pointer}: ${p.message}`);
  }
  throw new Error('expected the rules to be refused');
}

describe('enforcer rules loading', () => {
  it('lists every problem of a bad rules file at once', () => {
    const problems = problemsOf({
      rules: [
        { name: 'a', violation: { field: 'container.nope', op: 'eq', value: 1 } },
        { name: 'b', violation: { field: 'container.memory', op: 'regex', value: 'x' } },
        { name: 'c', violation: { field: 'container.image', op: 'regex', value: '(' } },
        { name: 'a', require: { field: 'container.privileged', op: 'eq', value: 'yes' } },
        { name: 'e', violation: { field: 'container.name', any: { op: 'exists' } } },
      ],
      whitelist: ['^x$|no-such-rule'],
    });
    expect(problems.join('\n')).to.include('unknown field "container.nope"');
    expect(problems.join('\n')).to.include('"regex" needs a string field');
    expect(problems.join('\n')).to.include('invalid regex');
    expect(problems.join('\n')).to.include('duplicate rule name "a"');
    expect(problems.join('\n')).to.include('needs a boolean value');
    expect(problems.join('\n')).to.include('not a list');
    expect(problems.join('\n')).to.include('unknown rule "no-such-rule"');
    expect(problems).to.have.length(7);
  });

  it('refuses schema errors (unknown operator, unknown property, code as a rule) with pointers', () => {
    const problems = problemsOf({ rules: [{ name: 'x', violation: { field: 'container.memory', op: 'js', value: 'c => true' } }, { name: 'y', lambda: 'c => c.x' }] });
    expect(problems.some((p) => p.startsWith('/rules/0/violation'))).to.equal(true);
    expect(problems.some((p) => p.startsWith('/rules/1'))).to.equal(true);
  });

  it('loads a file, fills defaults, freezes and hashes it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'enf-rules-'));
    const file = join(dir, 'r.json');
    writeFileSync(file, JSON.stringify({ rules: [{ name: 'p', violation: { field: 'container.privileged', op: 'eq', value: true } }] }));
    const rules = loadRules(file);
    expect(rules.hash).to.match(/^[0-9a-f]{64}$/);
    expect(rules.rules[0]?.action).to.deep.equal({ type: 'kill', signal: 'SIGKILL' });
    expect(Object.isFrozen(rules.rules)).to.equal(true);
    expect(() => loadRules(join(dir, 'missing.json'))).to.throw(ConfigError, /cannot read file/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('honours whitelists (global and per rule) and trusted exemptions', () => {
    const rules = parseRules({
      whitelist: ['^keep-', { image: '^trusted/', rule: 'priv' }],
      exempt: [{ label: 'org.example.exempt', value: 'yes' }, { imageDigest: `sha256:${'b'.repeat(64)}` }],
      rules: [
        { name: 'priv', violation: { field: 'container.privileged', op: 'eq', value: true } },
        { name: 'mem', require: { field: 'container.memory', op: 'gt', value: 0 }, exempt: [{ containerId: 'abcdef012345' }] },
      ],
    });
    const rogue = (over: Record<string, unknown>) => model(over, { Privileged: true, Memory: 0 });
    const names = (c: ReturnType<typeof model>) => evaluate(rules, { source: 'create', container: c }).violations.map((v) => v.rule);
    expect(names(rogue({ name: 'bad' }))).to.deep.equal(['priv', 'mem']);
    expect(names(rogue({ name: 'keep-me' }))).to.deep.equal([]);
    expect(names(rogue({ Image: 'trusted/x' }))).to.deep.equal(['mem']);
    expect(names(rogue({ Labels: { 'org.example.exempt': 'yes' } }))).to.deep.equal([]);
    expect(names({ ...rogue({}), id: 'abcdef0123456789' })).to.deep.equal(['priv']);
    expect(names(rogue({ Image: `busybox@sha256:${'b'.repeat(64)}` }))).to.deep.equal([]);
    expect(names({ ...rogue({}), imageId: `sha256:${'b'.repeat(64)}` })).to.deep.equal([]);
    expect(names(rogue({ Labels: { 'org.example.exempt': 'no' } }))).to.deep.equal(['priv', 'mem']);
    expect(evaluate(rules, { source: 'create', container: rogue({}) }, { firstOnly: true }).violations).to.have.length(1);
  });

  it('applies the fail-open/fail-closed policy when a rule throws', () => {
    const rules = parseRules({
      rules: [
        { name: 'closed', onError: 'fail-closed', violation: { field: 'container.mounts', any: { field: 'type', op: 'eq', value: 'bind' } } },
        { name: 'open', onError: 'fail-open', violation: { field: 'container.mounts', any: { field: 'type', op: 'eq', value: 'bind' } } },
      ],
    });
    const poisoned = { ...model() };
    Object.defineProperty(poisoned, 'mounts', { get: () => { throw new Error('boom'); } });
    const result = evaluate(rules, { source: 'create', container: poisoned });
    expect(result.violations.map((v) => v.rule)).to.deep.equal(['closed']);
    expect(result.violations[0]?.error).to.include('boom');
    expect(result.failures.map((f) => f.policy)).to.deep.equal(['fail-closed', 'fail-open']);
  });
});

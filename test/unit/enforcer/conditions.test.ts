import { expect } from 'chai';
import { evaluate } from '../../../src/enforcer/evaluate.js';
import type { Subject } from '../../../src/enforcer/fields.js';
import { parseRules } from '../../../src/enforcer/rules.js';
import { model } from './helpers.js';

function violates(condition: unknown, subject: Subject): boolean {
  const rules = parseRules({ rules: [{ name: 'r', violation: condition }] });
  return evaluate(rules, subject).violations.length === 1;
}

const base: Subject = {
  source: 'periodic',
  container: model({ Labels: { 'org.menagerie.managed': 'true', 'a.b.c': 'x' }, name: 'web-1' }, { Binds: ['/etc:/host-etc:ro'] }),
  metrics: { memoryUsage: 60, memoryLimit: 100, memoryPercent: 60, blockRead: 0, blockWrite: 0, netRx: 0, netTx: 0 },
};
const crowded: Subject = { ...base, host: { running: 12, startPosition: 12 } };
const noMetrics: Subject = { source: 'create', container: base.container };

describe('enforcer conditions (table)', () => {
  const table: Array<[string, unknown, Subject, boolean]> = [
    ['eq number', { field: 'container.memory', op: 'eq', value: 64 * 1024 * 1024 }, base, true],
    ['ne string', { field: 'container.networkMode', op: 'ne', value: 'none' }, base, false],
    ['lt', { field: 'container.pidsLimit', op: 'lt', value: 33 }, base, true],
    ['gt false', { field: 'container.pidsLimit', op: 'gt', value: 32 }, base, false],
    ['in', { field: 'container.networkMode', op: 'in', value: ['host', 'none'] }, base, true],
    ['regex', { field: 'container.image', op: 'regex', value: '^menagerie/' }, base, true],
    ['prefix', { field: 'container.image', op: 'prefix', value: 'docker.io/' }, base, false],
    ['label with dots in key', { field: 'container.labels.a.b.c', op: 'eq', value: 'x' }, base, true],
    ['label exists', { field: 'container.labels.org.menagerie.managed', op: 'exists' }, base, true],
    ['absent label exists:false', { field: 'container.labels.nope', op: 'exists', value: false }, base, true],
    ['absent label eq is false', { field: 'container.labels.nope', op: 'eq', value: 'x' }, base, false],
    ['absent label ne is true', { field: 'container.labels.nope', op: 'ne', value: 'x' }, base, true],
    ['absent with ifMissing', { field: 'container.labels.nope', op: 'eq', value: 'x', ifMissing: true }, base, true],
    ['any mount bind', { field: 'container.mounts', any: { field: 'type', op: 'eq', value: 'bind' } }, base, true],
    ['all mounts read-only', { field: 'container.mounts', all: { field: 'readOnly', op: 'eq', value: true } }, base, true],
    ['any over strings', { field: 'container.capDrop', any: { op: 'eq', value: 'ALL' } }, base, true],
    ['any over empty list', { field: 'container.capAdd', any: { op: 'exists' } }, base, false],
    ['all over empty list', { field: 'container.capAdd', all: { op: 'eq', value: 'X' } }, base, true],
    ['and', { and: [{ field: 'container.privileged', op: 'eq', value: false }, { field: 'container.readonlyRootfs', op: 'eq', value: true }] }, base, true],
    ['or', { or: [{ field: 'container.privileged', op: 'eq', value: true }, { field: 'container.name', op: 'eq', value: 'web-1' }] }, base, true],
    ['not', { not: { field: 'container.privileged', op: 'eq', value: false } }, base, false],
    ['metric gt', { field: 'metrics.memoryPercent', op: 'gt', value: 50 }, base, true],
    ['metric missing is false', { field: 'metrics.memoryPercent', op: 'gt', value: 50 }, noMetrics, false],
    ['aggregate: running containers', { field: 'host.running', op: 'gt', value: 10 }, crowded, true],
    ['aggregate: newest beyond the 10th', { and: [{ field: 'host.startPosition', op: 'gt', value: 10 }, { field: 'host.running', op: 'gt', value: 10 }] }, crowded, true],
    ['aggregate missing at create', { field: 'host.running', op: 'gt', value: 10 }, noMetrics, false],
    ['source', { field: 'source', op: 'eq', value: 'create' }, noMetrics, true],
  ];
  for (const [name, cond, subject, expected] of table) {
    it(`${name} → ${expected}`, () => expect(violates(cond, subject)).to.equal(expected));
  }
});

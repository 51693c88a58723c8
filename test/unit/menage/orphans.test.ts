import { expect } from 'chai';
import { LABELS } from '../../../src/contract/labels.js';
import { judgeContainer, type Verdict } from '../../../src/menage/orphans.js';

describe('menage/orphans: which containers go', () => {
  const now = 1_000_000;
  const c = (labels: Record<string, string>, running = true) => ({ id: 'x', running, labels: { [LABELS.attempt]: '2', [LABELS.deadline]: String(now + 1000), ...labels } });
  const table: Array<[string, ReturnType<typeof c>, Parameters<typeof judgeContainer>[1], Verdict['action']]> = [
    ['running job, current attempt', c({}), { status: 'Running', attempts: 2 }, 'keep'],
    ['waiting job (requeued), current attempt', c({}), { status: 'Received', attempts: 2 }, 'keep'],
    ['frontend unavailable', c({}), 'unavailable', 'keep'],
    ['job unknown, running', c({}), undefined, 'kill'],
    ['job unknown, stopped', c({}, false), undefined, 'remove'],
    ['job succeeded', c({}, false), { status: 'Success' }, 'remove'],
    ['job failed, container still running', c({}), { status: 'Fail' }, 'kill'],
    ['earlier attempt', c({ [LABELS.attempt]: '1' }), { status: 'Running', attempts: 2 }, 'kill'],
    ['past deadline, job running', c({ [LABELS.deadline]: String(now - 1) }), { status: 'Running', attempts: 2 }, 'kill'],
    ['past deadline, frontend unavailable', c({ [LABELS.deadline]: String(now - 1) }, false), 'unavailable', 'remove'],
    ['no deadline label', c({ [LABELS.deadline]: '' }), { status: 'Running', attempts: 2 }, 'keep'],
    ['no attempts in the answer', c({}), { status: 'Running' }, 'keep'],
  ];
  for (const [what, container, job, action] of table) {
    it(`${what}: ${action}`, () => expect(judgeContainer(container, job, now).action).to.equal(action));
  }
  it('says why', () => {
    expect(judgeContainer(c({ [LABELS.deadline]: String(now - 5000) }), undefined, now)).to.deep.equal({ action: 'kill', why: 'past its deadline by 5 s' });
  });
});

describe('menage/orphans: warm-pool containers (no job label)', () => {
  const now = 1_000_000;
  const self = { node: 'n1', since: now - 60_000 };
  const pool = (over: { node?: string; running?: boolean; created?: number; deadline?: number } = {}) => ({
    id: 'p', running: over.running ?? false, created: over.created ?? now - 1000,
    labels: { [LABELS.role]: 'pool', [LABELS.node]: over.node ?? 'n1', [LABELS.deadline]: String(over.deadline ?? now + 1000) },
  });
  const table: Array<[string, ReturnType<typeof pool>, Parameters<typeof judgeContainer>[1], Verdict['action']]> = [
    ['waiting in this run\'s pool', pool(), 'unavailable', 'keep'],
    ['waiting, created just before this run started (Docker\'s whole seconds)', pool({ created: self.since - 1500 }), 'unavailable', 'keep'],
    ['waiting, left by an earlier run of this node', pool({ created: self.since - 10_000 }), 'unavailable', 'remove'],
    ['waiting in another node\'s pool, however old', pool({ node: 'n2', created: 0 }), 'unavailable', 'keep'],
    ['waiting past its deadline', pool({ node: 'n2', deadline: now - 1 }), 'unavailable', 'remove'],
    ['running its job', pool({ running: true }), { status: 'Running', attempts: 1 }, 'keep'],
    ['running, no job on record for it', pool({ running: true }), undefined, 'kill'],
    ['running, its job finished', pool({ running: true }), { status: 'Fail', attempts: 1 }, 'kill'],
    ['running, frontend unavailable', pool({ running: true }), 'unavailable', 'keep'],
  ];
  for (const [what, container, job, action] of table) {
    it(`${what}: ${action}`, () => expect(judgeContainer(container, job, now, self).action).to.equal(action));
  }
});

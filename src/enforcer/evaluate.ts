import type { ContainerCreateOptions } from 'dockerode';
import { AppError } from '../errors.js';
import { modelFromCreate, type ContainerModel } from './container-model.js';
import type { Subject } from './fields.js';
import type { Rule, RuleAction, RuleSet } from './rules.js';

/** One broken rule. */
export interface Violation {
  readonly rule: string;
  readonly action: RuleAction;
  readonly message: string;
  /** Consecutive samples needed before it counts on a running container (1 = at once). */
  readonly samples: number;
  /** Set when the violation comes from an evaluation error under fail-closed. */
  readonly error?: string;
}

/** A rule that could not be evaluated. */
export interface RuleFailure {
  readonly rule: string;
  readonly message: string;
  readonly policy: 'fail-open' | 'fail-closed';
}

/** The result of evaluating every applicable rule on one subject. */
export interface Evaluation {
  readonly violations: Violation[];
  readonly failures: RuleFailure[];
}

/** Evaluation options: stop at the first violation or collect them all (default). */
export interface EvaluateOptions {
  readonly firstOnly?: boolean;
}

/** Name of the pseudo-rule reported when a create body cannot be read. */
export const UNREADABLE_BODY_RULE = 'unreadable-create-body';

/** Evaluates a rule set on a subject; pure. */
export function evaluate(rules: RuleSet, subject: Subject, options: EvaluateOptions = {}): Evaluation {
  const out: Evaluation = { violations: [], failures: [] };
  const c = subject.container;
  if (rules.exempt.some((x) => x(c))) return out;
  for (const rule of rules.rules) {
    if (isExcused(rules, rule, c)) continue;
    const v = check(rule, subject, out.failures);
    if (v) {
      out.violations.push(v);
      if (options.firstOnly) break;
    }
  }
  return out;
}

function isExcused(rules: RuleSet, rule: Rule, c: ContainerModel): boolean {
  if (rule.exempt.some((x) => x(c))) return true;
  return rules.whitelist.some((w) => (w.rule === undefined || w.rule === rule.name) && w.matches(c));
}

function check(rule: Rule, subject: Subject, failures: RuleFailure[]): Violation | undefined {
  const base = { rule: rule.name, action: rule.action, message: rule.description, samples: rule.samples };
  try {
    return rule.violated(subject) ? base : undefined;
  } catch (err) {
    const message = `rule ${rule.name} could not be evaluated: ${(err as Error).message}`;
    failures.push({ rule: rule.name, message, policy: rule.onError });
    return rule.onError === 'fail-closed' ? { ...base, error: message } : undefined;
  }
}

/**
 * The policy gate: evaluates a container create body (dockerode options or the raw JSON the
 * daemon receives) against the rules, in process. A body that cannot be read is a violation.
 */
export function evaluateCreate(rules: RuleSet, body: ContainerCreateOptions | unknown, options: EvaluateOptions = {}): Violation[] {
  let container: ContainerModel;
  try {
    container = modelFromCreate(body);
  } catch (err) {
    const message = err instanceof AppError ? err.message : 'cannot read the create body';
    return [{ rule: UNREADABLE_BODY_RULE, action: { type: 'kill', signal: 'SIGKILL' }, message, samples: 1 }];
  }
  return evaluate(rules, { source: 'create', container }, options).violations;
}

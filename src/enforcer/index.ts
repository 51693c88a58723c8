/** The enforcer's public API: the rule engine as a policy gate, usable in process. */
export { loadRules, parseRules, type Rule, type RuleAction, type RuleSet, type ErrorPolicy } from './rules.js';
export { evaluate, evaluateCreate, UNREADABLE_BODY_RULE, type Violation, type Evaluation, type EvaluateOptions } from './evaluate.js';
export { modelFromCreate, modelFromInspect, type ContainerModel, type MountModel } from './container-model.js';
export type { Subject, Source } from './fields.js';
export { formatViolations } from './format.js';

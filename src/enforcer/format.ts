import type { Violation } from './evaluate.js';

/** One line naming every broken rule, for refusals and logs: "rule-a (message); rule-b (message)". */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.rule} (${v.message})`).join('; ');
}

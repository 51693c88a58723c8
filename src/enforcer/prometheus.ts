import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/**
 * The enforcer's metrics (prom-client), on a registry of their own that this instance makes:
 * one instance per process, created by the composition root. The names and labels are those
 * docs/enforcer.md lists (and docker-enforcer had); process metrics come with them.
 */
export class EnforcerMetrics {
  readonly registry = new Registry();
  readonly evaluations = this.#counter('menagerie_enforcer_evaluations_total', 'Containers or requests evaluated, by source.', ['source']);
  readonly violations = this.#counter('menagerie_enforcer_violations_total', 'Rule violations found, by rule and effective action.', ['rule', 'action']);
  readonly actions = this.#counter('menagerie_enforcer_actions_total', 'Actions taken on containers, by action and result.', ['action', 'result']);
  readonly ruleErrors = this.#counter('menagerie_enforcer_rule_errors_total', 'Rule evaluation errors, by rule and policy.', ['rule', 'policy']);
  readonly scanDuration = this.#gauge('menagerie_enforcer_scan_duration_seconds', 'Duration of the last periodic scan.');
  readonly lastScan = this.#gauge('menagerie_enforcer_last_scan_timestamp_seconds', 'Unix time the last scan finished.');
  readonly scans = this.#counter('menagerie_enforcer_scans_total', 'Scans run, by result.', ['source', 'result']);
  readonly authz = this.#counter('menagerie_enforcer_authz_requests_total', 'AuthZ plugin requests, by decision.', ['endpoint', 'decision']);
  readonly reconnects = this.#counter('menagerie_enforcer_event_stream_reconnects_total', 'Docker event stream reconnections.', []);
  readonly triggers = this.#counter('menagerie_enforcer_trigger_results_total', 'Trigger deliveries, by trigger and result.', ['trigger', 'result']);
  readonly rulesLoaded = this.#gauge('menagerie_enforcer_rules_loaded', 'Number of rules loaded.');
  readonly reloads = this.#counter('menagerie_enforcer_rule_reloads_total', 'Rule reloads, by result.', ['result']);

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  #gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  /** The text exposition (format 0.0.4) of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

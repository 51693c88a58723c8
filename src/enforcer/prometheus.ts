/** A counter or gauge family with labels, rendered in the Prometheus text format 0.0.4. */
class Family {
  private readonly values = new Map<string, { labels: Record<string, string>; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  /** Adds to the series with these labels. */
  inc(labels: Record<string, string> = {}, by = 1): void {
    const s = this.series(labels);
    s.value += by;
  }

  /** Sets the series with these labels. */
  set(labels: Record<string, string>, value: number): void {
    this.series(labels).value = value;
  }

  private series(labels: Record<string, string>) {
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
    let s = this.values.get(key);
    if (!s) {
      s = { labels, value: 0 };
      this.values.set(key, s);
    }
    return s;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${renderLabels(labels)} ${formatValue(value)}`);
    return lines.join('\n');
  }
}

function renderLabels(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(v);
}

/** The enforcer's metrics; one instance per process, created by the composition root. */
export class EnforcerMetrics {
  readonly evaluations = new Family('menagerie_enforcer_evaluations_total', 'Containers or requests evaluated, by source.', 'counter');
  readonly violations = new Family('menagerie_enforcer_violations_total', 'Rule violations found, by rule and effective action.', 'counter');
  readonly actions = new Family('menagerie_enforcer_actions_total', 'Actions taken on containers, by action and result.', 'counter');
  readonly ruleErrors = new Family('menagerie_enforcer_rule_errors_total', 'Rule evaluation errors, by rule and policy.', 'counter');
  readonly scanDuration = new Family('menagerie_enforcer_scan_duration_seconds', 'Duration of the last periodic scan.', 'gauge');
  readonly lastScan = new Family('menagerie_enforcer_last_scan_timestamp_seconds', 'Unix time the last scan finished.', 'gauge');
  readonly scans = new Family('menagerie_enforcer_scans_total', 'Scans run, by result.', 'counter');
  readonly authz = new Family('menagerie_enforcer_authz_requests_total', 'AuthZ plugin requests, by decision.', 'counter');
  readonly reconnects = new Family('menagerie_enforcer_event_stream_reconnects_total', 'Docker event stream reconnections.', 'counter');
  readonly triggers = new Family('menagerie_enforcer_trigger_results_total', 'Trigger deliveries, by trigger and result.', 'counter');
  readonly rulesLoaded = new Family('menagerie_enforcer_rules_loaded', 'Number of rules loaded.', 'gauge');
  readonly reloads = new Family('menagerie_enforcer_rule_reloads_total', 'Rule reloads, by result.', 'counter');

  /** The text exposition of every family. */
  render(): string {
    const families = Object.values(this).filter((f): f is Family => f instanceof Family);
    return `${families.map((f) => f.render()).join('\n')}\n`;
  }
}

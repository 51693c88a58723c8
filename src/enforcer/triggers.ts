import type { Detection } from './detections.js';
import type { Log } from './log.js';
import type { EnforcerMetrics } from './prometheus.js';
import { LABELS } from '../contract/labels.js';

/** A webhook to POST each detection to. */
export interface Webhook {
  readonly url: string;
  readonly timeoutMs: number;
  readonly token?: string;
}

/** The outcome of one trigger delivery, kept for /triggers. */
export interface TriggerRecord {
  readonly time: string;
  readonly trigger: string;
  readonly containerId: string;
  readonly ok: boolean;
  readonly detail?: string;
}

/** Runs the triggers (log line, webhooks) for each detection; failures are isolated. */
export class Triggers {
  private readonly records: TriggerRecord[] = [];

  constructor(
    private readonly opts: { log: boolean; webhooks: readonly Webhook[] },
    private readonly log: Log,
    private readonly metrics: EnforcerMetrics,
    private readonly limit = 200,
  ) {}

  /** Fires every trigger for a detection; never throws. */
  async fire(d: Detection): Promise<void> {
    if (this.opts.log) {
      this.log('warn', 'policy violation', {
        source: d.source, container: d.containerId, name: d.name, mode: d.mode, outcome: d.outcome,
        rules: d.violations.map((v) => v.rule), ...jobFields(d.labels),
      });
      this.record({ trigger: 'log', containerId: d.containerId, ok: true });
    }
    await Promise.all(this.opts.webhooks.map((w) => this.post(w, d)));
  }

  private async post(w: Webhook, d: Detection): Promise<void> {
    const trigger = `webhook:${new URL(w.url).host}`;
    try {
      const res = await fetch(w.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(w.token ? { authorization: `Bearer ${w.token}` } : {}) },
        body: JSON.stringify(d),
        signal: AbortSignal.timeout(w.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      this.record({ trigger, containerId: d.containerId, ok: res.ok, ...(res.ok ? {} : { detail: `status ${res.status}` }) });
    } catch (err) {
      this.log('warn', 'webhook failed', { url: w.url, error: (err as Error).message });
      this.record({ trigger, containerId: d.containerId, ok: false, detail: (err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable' });
    }
  }

  private record(r: Omit<TriggerRecord, 'time'>): void {
    this.metrics.triggers.inc({ trigger: r.trigger.split(':')[0] ?? r.trigger, result: r.ok ? 'ok' : 'failed' });
    this.records.push({ time: new Date().toISOString(), ...r });
    if (this.records.length > this.limit) this.records.shift();
  }

  /** Configured triggers and recent deliveries. */
  describe(): { log: boolean; webhooks: string[]; recent: readonly TriggerRecord[] } {
    const shown = (url: string) => {
      const u = new URL(url);
      return `${u.origin}${u.pathname}`;
    };
    return { log: this.opts.log, webhooks: this.opts.webhooks.map((w) => shown(w.url)), recent: [...this.records] };
  }
}

/** A Menagerie job's fields from its container's labels (none for other containers). */
function jobFields(labels: Readonly<Record<string, string>>): Record<string, unknown> {
  const jobid = labels[LABELS.job];
  if (jobid === undefined) return {};
  return { jobid: jobid.slice(0, 40), engine: labels[LABELS.engine]?.slice(0, 100) ?? null, attempt: Number(labels[LABELS.attempt]) || null };
}

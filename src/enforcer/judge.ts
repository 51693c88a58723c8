import type Docker from 'dockerode';
import { AppError } from '../errors.js';
import { applyAction } from './actions.js';
import type { EnforcerConfig, Mode } from './config.js';
import { modelFromCreate, type ContainerModel } from './container-model.js';
import type { Detection, DetectionLog, Outcome } from './detections.js';
import { evaluate, UNREADABLE_BODY_RULE, type Violation } from './evaluate.js';
import type { Source, Subject } from './fields.js';
import { LABELS } from '../contract/labels.js';
import { failJob, jobOfContainer } from './job-failer.js';
import { withFields, type Log } from './log.js';
import type { EnforcerMetrics } from './prometheus.js';
import type { RuleAction, RuleSet } from './rules.js';
import type { Triggers } from './triggers.js';

/** What the judge needs from the rest of the process. */
export interface JudgeDeps {
  readonly docker: Docker;
  readonly config: Pick<EnforcerConfig, 'mode' | 'stopOnFirstViolation' | 'frontend' | 'actionTimeoutSeconds'>;
  readonly log: Log;
  readonly metrics: EnforcerMetrics;
  readonly detections: DetectionLog;
  readonly triggers: Triggers;
}

/** An AuthZ verdict on a create request. */
export interface CreateVerdict {
  readonly allow: boolean;
  readonly message: string;
}

const JOB_LABEL = LABELS.job;
const ENGINE_LABEL = LABELS.engine;
const ATTEMPT_LABEL = LABELS.attempt;
const ROLE_LABEL = LABELS.role;

/**
 * Turns evaluations into decisions: duration thresholds, WARN/KILL mode per container, the
 * action (after telling the frontend about a job's container), detections, triggers, metrics.
 * Holds the current rule set; swapRules replaces it atomically.
 */
export class Judge {
  private rules: RuleSet;
  private readonly streaks = new Map<string, Map<string, number>>();
  private readonly acting = new Set<string>();

  constructor(private readonly deps: JudgeDeps, rules: RuleSet) {
    this.rules = rules;
  }

  /** The rule set in force. */
  currentRules(): RuleSet {
    return this.rules;
  }

  /** Replaces the rule set; evaluations already running finish with the old one. */
  swapRules(rules: RuleSet): void {
    this.rules = rules;
    this.streaks.clear();
  }

  /** WARN or KILL for this container: the first matching override, else the default. */
  modeFor(c: ContainerModel): Mode {
    const { overrides, default: fallback } = this.deps.config.mode;
    const o = overrides.find((x) => Object.hasOwn(c.labels, x.label) && (x.value === undefined || c.labels[x.label] === x.value));
    return o ? o.mode : fallback;
  }

  /** Forgets duration streaks of containers no longer running. */
  forgetExcept(runningIds: ReadonlySet<string>): void {
    for (const id of this.streaks.keys()) if (!runningIds.has(id)) this.streaks.delete(id);
  }

  /** Evaluates a running container and acts on what counts; returns the detection, if any. */
  async judgeRunning(subject: Subject, signal?: AbortSignal): Promise<Detection | undefined> {
    const violations = this.countSamples(subject, this.evaluate(subject));
    if (violations.length === 0) return undefined;
    const c = subject.container;
    const mode = this.modeFor(c);
    const action = mode === 'kill' ? strongest(violations) : undefined;
    if (action && this.acting.has(c.id)) return undefined; // another source is already acting on it
    this.countViolations(violations, mode);
    if (!action) return this.record(subject.source, c, violations, mode, 'reported');
    this.acting.add(c.id);
    try {
      const { outcome, detail } = await this.act(c, violations, action, signal);
      return this.record(subject.source, c, violations, mode, outcome, detail);
    } finally {
      this.acting.delete(c.id);
    }
  }

  /** Decides on a create request body (AuthZ); an unreadable body is denied. */
  judgeCreate(body: unknown, name: string, source: Source = 'authz'): CreateVerdict {
    let c: ContainerModel;
    try {
      c = modelFromCreate(body, name);
    } catch (err) {
      return this.denyUnreadable(err instanceof AppError ? err.message : 'cannot read the create body', source);
    }
    return this.judgeRequest(c, source);
  }

  /** Denies a request whose settings cannot be read (fail closed). */
  denyUnreadable(message: string, source: Source = 'authz'): CreateVerdict {
    this.deps.metrics.evaluations.inc({ source });
    this.deps.metrics.violations.inc({ rule: UNREADABLE_BODY_RULE, action: 'deny' });
    return { allow: false, message: `denied by policy: ${UNREADABLE_BODY_RULE} (${message})` };
  }

  /** Decides on requested settings: deny in KILL mode when a non-warn rule is broken. */
  judgeRequest(c: ContainerModel, source: Source = 'authz'): CreateVerdict {
    const violations = this.evaluate({ source, container: c });
    if (violations.length === 0) return { allow: true, message: '' };
    const mode = this.modeFor(c);
    const deny = mode === 'kill' && strongest(violations) !== undefined;
    this.countViolations(violations, mode, deny ? 'deny' : undefined);
    this.record(source, c, violations, mode, deny ? 'denied' : 'reported');
    const list = violations.map((v) => `${v.rule} (${v.message})`).join('; ');
    return { allow: !deny, message: deny ? `denied by policy: ${list}` : '' };
  }

  private evaluate(subject: Subject): Violation[] {
    this.deps.metrics.evaluations.inc({ source: subject.source });
    const ev = evaluate(this.rules, subject, { firstOnly: this.deps.config.stopOnFirstViolation });
    for (const f of ev.failures) {
      this.deps.metrics.ruleErrors.inc({ rule: f.rule, policy: f.policy });
      this.deps.log('error', 'rule evaluation failed', { rule: f.rule, policy: f.policy, error: f.message });
    }
    return ev.violations;
  }

  /** Duration thresholds: a rule needing N samples counts after N consecutive periodic hits. */
  private countSamples(subject: Subject, violations: Violation[]): Violation[] {
    const id = subject.container.id;
    if (subject.source !== 'periodic') return violations.filter((v) => v.samples <= 1);
    const before = this.streaks.get(id) ?? new Map<string, number>();
    const now = new Map<string, number>();
    for (const v of violations) now.set(v.rule, (before.get(v.rule) ?? 0) + 1);
    this.streaks.set(id, now);
    return violations.filter((v) => (now.get(v.rule) ?? 0) >= v.samples);
  }

  private countViolations(violations: Violation[], mode: Mode, override?: string): void {
    for (const v of violations) {
      this.deps.metrics.violations.inc({ rule: v.rule, action: override ?? (mode === 'kill' ? v.action.type : 'warn') });
    }
  }

  private async act(c: ContainerModel, violations: Violation[], action: RuleAction, signal?: AbortSignal): Promise<{ outcome: Outcome; detail?: string }> {
    const { frontend, actionTimeoutSeconds } = this.deps.config;
    const cause = violations.find((v) => v.action === action) ?? violations[0]!;
    const jobId = c.labels[JOB_LABEL];
    if (jobId && frontend) {
      const job = { jobid: jobId.slice(0, 40), engine: c.labels[ENGINE_LABEL] ?? null, attempt: Number(c.labels[ATTEMPT_LABEL]) || null };
      await failJob(frontend, jobId, cause.rule, cause.message, withFields(this.deps.log, job));
    } else if (frontend && c.labels[ROLE_LABEL] === 'pool') {
      // A warm-pool container: its job is on record with the frontend, not on a label.
      const job = await jobOfContainer(frontend, c.id, this.deps.log);
      if (job) await failJob(frontend, job.jobid, cause.rule, cause.message, withFields(this.deps.log, { jobid: job.jobid, engine: job.engine, attempt: job.attempts }));
    }
    const { result, detail } = await applyAction(this.deps.docker, c.id, action, actionTimeoutSeconds * 1000, signal);
    this.deps.metrics.actions.inc({ action: action.type, result });
    return detail === undefined ? { outcome: result } : { outcome: result, detail };
  }

  private record(source: Source, c: ContainerModel, violations: Violation[], mode: Mode, outcome: Outcome, detail?: string): Detection {
    const d: Detection = {
      time: new Date().toISOString(), source, containerId: c.id, name: c.name, image: c.image, labels: c.labels,
      violations, mode, outcome, ...(detail === undefined ? {} : { detail }),
    };
    const { detection, isNew } = this.deps.detections.add(d);
    // A repeat (a WARN container seen again by the next scan) is counted, not re-announced.
    if (isNew) void this.deps.triggers.fire(detection);
    return detection;
  }
}

/** The strongest non-warn action among the violations (kill beats stop), if any. */
function strongest(violations: Violation[]): RuleAction | undefined {
  return violations.find((v) => v.action.type === 'kill')?.action ?? violations.find((v) => v.action.type === 'stop')?.action;
}

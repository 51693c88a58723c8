import type { Source } from './fields.js';
import type { Violation } from './evaluate.js';
import type { Mode } from './config.js';

/** What was done about a detection. */
export type Outcome = 'reported' | 'stopped' | 'killed' | 'gone' | 'failed' | 'denied';

/** One container (or create request) found breaking rules. */
export interface Detection {
  /** When it was last seen. */
  readonly time: string;
  readonly source: Source;
  readonly containerId: string;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly violations: readonly Violation[];
  readonly mode: Mode;
  readonly outcome: Outcome;
  readonly detail?: string;
  /** How many times the same container broke the same rules with the same outcome. */
  readonly count?: number;
  /** When it was first seen. */
  readonly firstTime?: string;
}

/**
 * A bounded history of detections, a repeat (same container, rules and outcome, e.g. a WARN
 * container seen by every scan) folded into one entry with a count, plus the set found by the
 * last finished scan.
 */
export class DetectionLog {
  private readonly all: Detection[] = [];
  private recentSet: Detection[] = [];
  private current: Detection[] | undefined;

  constructor(private readonly limit: number) {}

  /** Records a detection; returns it with its count, and whether it is new (not a repeat). */
  add(d: Detection): { detection: Detection; isNew: boolean } {
    const key = keyOf(d);
    const at = this.all.findIndex((x) => keyOf(x) === key);
    const before = at >= 0 ? this.all.splice(at, 1)[0] : undefined;
    const detection: Detection = { ...d, count: (before?.count ?? 0) + 1, firstTime: before?.firstTime ?? d.time };
    this.all.push(detection);
    if (this.all.length > this.limit) this.all.splice(0, this.all.length - this.limit);
    this.current?.push(detection);
    return { detection, isNew: before === undefined };
  }

  /** Starts collecting a scan's detections. */
  beginScan(): void {
    this.current = [];
  }

  /** Publishes the scan's detections as the recent set. */
  endScan(): void {
    if (this.current) this.recentSet = this.current;
    this.current = undefined;
  }

  /** Every remembered detection, least recently seen first. */
  history(): readonly Detection[] {
    return [...this.all];
  }

  /** Detections of the last finished scan. */
  recent(): readonly Detection[] {
    return [...this.recentSet];
  }
}

function keyOf(d: Detection): string {
  const who = d.containerId || `${d.name}\u0000${d.image}`;
  return `${who}\u0000${d.outcome}\u0000${d.violations.map((v) => v.rule).join(',')}`;
}

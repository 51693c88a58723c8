import type { Source } from './fields.js';
import type { Violation } from './evaluate.js';
import type { Mode } from './config.js';

/** What was done about a detection. */
export type Outcome = 'reported' | 'stopped' | 'killed' | 'gone' | 'failed' | 'denied';

/** One container (or create request) found breaking rules. */
export interface Detection {
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
}

/** A bounded history of detections plus the set found by the last finished scan. */
export class DetectionLog {
  private readonly all: Detection[] = [];
  private recentSet: Detection[] = [];
  private current: Detection[] | undefined;

  constructor(private readonly limit: number) {}

  /** Records a detection (and adds it to the scan in progress, if any). */
  add(d: Detection): void {
    this.all.push(d);
    if (this.all.length > this.limit) this.all.splice(0, this.all.length - this.limit);
    this.current?.push(d);
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

  /** Every remembered detection, oldest first. */
  history(): readonly Detection[] {
    return [...this.all];
  }

  /** Detections of the last finished scan. */
  recent(): readonly Detection[] {
    return [...this.recentSet];
  }
}

/**
 * The `reason` label of a finished job: the stable phrase a failure reason starts with
 * ("exit code 3" → "exit code", "timeout: stopped after 5 s" → "timeout"), so the label
 * keeps few values whatever details follow. Success has the reason "".
 */
export function reasonLabel(reason: string | null | undefined): string {
  if (!reason) return '';
  const phrase = /^[A-Za-z][A-Za-z -]{0,39}/.exec(reason)?.[0] ?? '';
  // The phrase ends before a detail: a colon, a number, a quoted name.
  return phrase.trim().toLowerCase() || 'other';
}

/** Caps a label's distinct values: past `max`, new values count as "other". */
export class BoundedLabel {
  readonly #seen = new Set<string>();

  constructor(private readonly max = 50) {}

  of(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.max) return 'other';
    this.#seen.add(value);
    return value;
  }
}

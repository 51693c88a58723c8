/**
 * The reasons a job fails for, as users see them (job row, `/result` summary, error file).
 * Each reason starts with one of these stable phrases; details follow after a colon.
 */
export const REASONS = {
  timeout: 'timeout',
  outOfMemory: 'out of memory',
  exitCode: 'exit code',
  noResult: 'no result file',
  tooLarge: 'result too large',
  notRegular: 'output not a regular file',
  policy: 'killed by policy',
} as const;

/** An engine-supplied string (a file name, a link target) made safe to quote in a reason. */
export function quote(text: string, max = 120): string {
  const clean = JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return clean;
}

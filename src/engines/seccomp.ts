import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

/** A seccomp profile given by an engine: where it came from and its (minified) JSON text. */
export interface SeccompProfile {
  readonly file: string;
  readonly json: string;
}

/**
 * Reads an engine's seccomp profile at start-up. Docker's API wants the profile's content
 * (`seccomp=<json>`), not a path, so the file is read once here and checked to be a JSON
 * object with a `defaultAction`. "default" means Docker's own profile (nothing to read).
 */
export function loadSeccomp(value: string, baseDir: string, report: (message: string) => void): SeccompProfile | 'default' | undefined {
  if (value === 'default') return 'default';
  const file = isAbsolute(value) ? value : resolve(baseDir, value);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    report(`cannot read seccomp profile ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  let profile: unknown;
  try {
    profile = JSON.parse(text);
  } catch (err) {
    report(`seccomp profile ${file} is not JSON: ${(err as Error).message}`);
    return undefined;
  }
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile) || typeof (profile as { defaultAction?: unknown }).defaultAction !== 'string') {
    report(`seccomp profile ${file} is not a seccomp profile (a JSON object with "defaultAction")`);
    return undefined;
  }
  if (['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG'].includes((profile as { defaultAction: string }).defaultAction)) {
    report(`seccomp profile ${file} allows system calls by default; a profile must deny by default (like Docker's)`);
    return undefined;
  }
  return { file, json: JSON.stringify(profile) };
}

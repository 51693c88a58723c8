import { parseSize } from './size.js';

/**
 * Upper bounds on what one engine container may get; the shipped policy
 * (enforcer/rules/engines.json) holds the same numbers. A single box runs several such
 * containers at once: an engine needing more is a capacity decision, not a config line.
 */
export const BOUNDS = {
  /** Processes/threads (`pids`, `--pids-limit`). */
  pids: 4096,
  /** Memory in bytes (`memory`, `--memory`): 16 GiB. */
  memoryBytes: 16 * 1024 ** 3,
  /** Memory below this cannot start a runtime; also a guard against a unit typo. */
  minMemoryBytes: 4 * 1024 ** 2,
  /** CPUs (`cpus`, `--cpus`). */
  cpus: 16,
} as const;

/** The containment settings checked here, whether from an engines.json field or from runflags. */
export type CheckedSetting = 'apparmor' | 'seccomp' | 'user' | 'pids' | 'memory' | 'cpus';

/** Whether a user spelling names root: uid or gid 0 (`0`, `00`, `+0`, `root`, `0:0`, `x:0`) or none at all. */
export function isRootUser(user: unknown): boolean {
  if (typeof user === 'number') return user === 0;
  if (typeof user !== 'string') return false;
  const [uid = '', gid] = user.split(':', 2);
  // No user means the image's default user, which is root unless the image says otherwise.
  const root = (s: string): boolean => /^\s*([+-]?0+|root)?\s*$/i.test(s);
  return root(uid) || (gid !== undefined && root(gid) && gid.trim() !== '');
}

/**
 * The one check every containment setting passes, whichever way the engine gave it (an
 * explicit field or runflags): returns why `value` is refused for `key`, or undefined.
 */
export function settingProblem(key: CheckedSetting, value: unknown): string | undefined {
  switch (key) {
    case 'apparmor':
    case 'seccomp':
      return typeof value !== 'string' || value.trim() === '' || value.trim().toLowerCase() === 'unconfined'
        ? `${key} needs a profile and cannot be unconfined` : undefined;
    case 'user':
      return isRootUser(value) ? `user ${JSON.stringify(value)} is root (uid or gid 0, or none): engines run as an unprivileged user` : undefined;
    case 'pids':
      return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= BOUNDS.pids
        ? undefined : `pids ${JSON.stringify(value)} must be an integer from 1 to ${BOUNDS.pids} (unlimited is refused)`;
    case 'memory': {
      const bytes = parseSize(value);
      if (bytes === undefined) return `cannot read size ${JSON.stringify(value)}`;
      if (bytes < BOUNDS.minMemoryBytes) return 'memory must be at least 4m';
      return bytes > BOUNDS.memoryBytes ? `memory ${JSON.stringify(value)} is above the bound of 16g` : undefined;
    }
    case 'cpus':
      return typeof value === 'number' && value > 0 && value <= BOUNDS.cpus ? undefined : `cpus ${JSON.stringify(value)} must be above 0 and at most ${BOUNDS.cpus}`;
  }
}

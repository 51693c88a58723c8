/**
 * Translates the original engines.json `runflags` (docker CLI flags) into containment
 * settings. Only a documented, safe subset is understood; every other flag is refused so
 * that an old engines.json can never quietly weaken a container.
 */
import { settingProblem, type CheckedSetting } from './limits.js';

/** Containment settings that runflags may carry. */
export interface FlagSettings {
  network?: 'none';
  readonly?: boolean;
  memory?: string;
  cpus?: number;
  pids?: number;
  apparmor?: string;
  seccomp?: string;
  runtime?: string;
  user?: string;
  tmpfs?: Record<string, string>;
}

/** Splits a flag string on white space, honouring simple single and double quotes. */
export function splitFlags(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

const VALUE_FLAGS = new Set(['--net', '--network', '--memory', '-m', '--cpus', '--pids-limit', '--security-opt',
  '--runtime', '--user', '-u', '--tmpfs', '--cap-drop']);

/** Refused flags that take a value: the value is named with the flag, not refused as a flag of its own. */
const REFUSED_WITH_VALUE = new Set(['-v', '--volume', '--mount', '--volumes-from', '--cap-add', '--device', '--device-cgroup-rule',
  '--pid', '--ipc', '--uts', '--userns', '--cgroupns', '--cgroup-parent', '--entrypoint', '-e', '--env', '--env-file',
  '--add-host', '--dns', '-p', '--publish', '--name', '--link', '--ulimit', '--sysctl', '--group-add', '--log-driver',
  '--log-opt', '--shm-size', '--storage-opt', '--oom-score-adj', '--restart', '--memory-swap', '--memory-swappiness',
  '--kernel-memory', '--gpus', '-w', '--workdir', '-h', '--hostname', '--mac-address', '--ip', '--ip6', '--network-alias']);

/** Parses runflags; returns the settings and one message per refused or malformed flag. */
export function parseRunflags(text: string): { settings: FlagSettings; errors: string[] } {
  const settings: FlagSettings = {};
  const errors: string[] = [];
  const words = splitFlags(text);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const eq = word.indexOf('=');
    let flag = eq > 0 && word.startsWith('--') ? word.slice(0, eq) : word;
    let value: string | undefined = eq > 0 && word.startsWith('--') ? word.slice(eq + 1) : undefined;
    if (flag === '--read-only') {
      if (value !== undefined && value !== 'true') errors.push(`${word}: only --read-only (true) is allowed`);
      settings.readonly = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) {
      const next = words[i + 1];
      if (value === undefined && REFUSED_WITH_VALUE.has(flag) && next !== undefined && !next.startsWith('-')) {
        errors.push(`unsupported or unsafe flag ${word} ${next}`);
        i++;
      } else errors.push(`unsupported or unsafe flag ${word}`);
      continue;
    }
    if (value === undefined) {
      value = words[++i];
      if (value === undefined) {
        errors.push(`${flag} needs a value`);
        continue;
      }
    }
    if (flag === '-m') flag = '--memory';
    if (flag === '-u') flag = '--user';
    applyFlag(flag, value, settings, errors);
  }
  return { settings, errors };
}

function applyFlag(flag: string, value: string, s: FlagSettings, errors: string[]): void {
  switch (flag) {
    case '--net':
    case '--network':
      if (value === 'none') s.network = 'none';
      else errors.push(`${flag}=${value}: engines get no network; only "none" is allowed`);
      return;
    case '--memory':
      checked(`${flag} ${value}`, 'memory', value, s, errors);
      return;
    case '--cpus':
      if (/^\d+(\.\d+)?$/.test(value) && Number(value) > 0) checked(`${flag} ${value}`, 'cpus', Number(value), s, errors);
      else errors.push(`--cpus ${value}: not a positive number`);
      return;
    case '--pids-limit':
      if (/^\d+$/.test(value) && Number(value) > 0) checked(`${flag} ${value}`, 'pids', Number(value), s, errors);
      else errors.push(`--pids-limit ${value}: not a positive integer (unlimited is refused)`);
      return;
    case '--security-opt':
      applySecurityOpt(value, s, errors);
      return;
    case '--runtime':
      s.runtime = value;
      return;
    case '--user':
      checked(`${flag} ${value}`, 'user', value, s, errors);
      return;
    case '--cap-drop':
      // Every capability is dropped anyway; dropping some explicitly changes nothing.
      return;
    case '--tmpfs':
      applyTmpfs(value, s, errors);
      return;
  }
}

function applySecurityOpt(value: string, s: FlagSettings, errors: string[]): void {
  const m = /^(apparmor|seccomp|no-new-privileges)(?:[=:](.*))?$/.exec(value);
  if (!m) {
    errors.push(`--security-opt ${value}: only apparmor, seccomp and no-new-privileges are allowed`);
    return;
  }
  const [, key, arg] = m;
  if (key === 'no-new-privileges') {
    if (arg !== undefined && arg !== 'true') errors.push(`--security-opt ${value}: no-new-privileges cannot be turned off`);
    return;
  }
  checked(`--security-opt ${value}`, key as 'apparmor' | 'seccomp', arg ?? '', s, errors);
}

/** Takes a setting only if it passes the check explicit engines.json fields get too. */
function checked<K extends CheckedSetting>(what: string, key: K, value: FlagSettings[K], s: FlagSettings, errors: string[]): void {
  const problem = settingProblem(key, value);
  if (problem) errors.push(`${what}: ${problem}`);
  else s[key] = value;
}

function applyTmpfs(value: string, s: FlagSettings, errors: string[]): void {
  const [path, opts = ''] = value.split(/:(.*)/s, 2) as [string, string?];
  if (!path.startsWith('/')) {
    errors.push(`--tmpfs ${value}: the path must be absolute`);
    return;
  }
  const size = /(?:^|,)size=([^,]+)/.exec(opts)?.[1];
  s.tmpfs = { ...(s.tmpfs ?? {}), [path]: size ?? '' };
}

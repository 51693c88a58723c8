import type Docker from 'dockerode';
import type { Engine } from '../engines/engines.js';
import type { ConfigProblem } from '../errors.js';
import { readDaemonFacts } from './containment-report.js';

/**
 * Checks at start-up what only the Docker daemon can tell: every engine's runtime exists
 * (otherwise each job would fail to create its container, again and again). Returns the
 * problems (refuse to start) and warnings (controls the daemon does not enforce).
 */
export async function checkDaemon(docker: Docker, engines: readonly Engine[], enginesFile: string, allEngines: readonly Engine[] = engines): Promise<{ problems: ConfigProblem[]; warnings: string[] }> {
  const facts = await readDaemonFacts(docker);
  const problems: ConfigProblem[] = [];
  for (const engine of engines) {
    const runtime = engine.containment.runtime;
    if (runtime && !facts.runtimes.includes(runtime)) {
      problems.push({
        file: enginesFile, pointer: `/engines/${allEngines.indexOf(engine)}/runtime`,
        message: `engine "${engine.name}": runtime "${runtime}" is not installed in the Docker engine (it has ${facts.runtimes.join(', ') || 'none'})`,
      });
    }
  }
  const warnings: string[] = [];
  if (!facts.userns) warnings.push('the Docker daemon does not remap users (userns-remap): container root is host root');
  if (!facts.seccomp) warnings.push('the Docker daemon has no seccomp support: engines run without a system call filter');
  if (!facts.apparmor && engines.some((e) => e.containment.apparmor)) warnings.push('this host has no AppArmor: engine AppArmor profiles are not enforced');
  return { problems, warnings };
}

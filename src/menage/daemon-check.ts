import type Docker from 'dockerode';
import type { Engine } from '../engines/engines.js';
import type { ConfigProblem } from '../errors.js';
import { HOLDER_IMAGE } from './capped-volume.js';
import { readDaemonFacts } from './containment-report.js';

/**
 * Checks at start-up what only the Docker daemon can tell: every engine's runtime exists
 * (otherwise each job would fail to create its container, again and again), and the image
 * that holds size-capped volumes is there when an engine has `volumesize`. Returns the
 * problems (refuse to start) and warnings (controls the daemon does not enforce).
 */
export async function checkDaemon(docker: Docker, engines: readonly Engine[], enginesFile: string, allEngines: readonly Engine[] = engines, holderImage = HOLDER_IMAGE): Promise<{ problems: ConfigProblem[]; warnings: string[] }> {
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
  const capped = engines.find((e) => e.containment.volumeBytes);
  if (capped && !(await docker.getImage(holderImage).inspect().then(() => true, () => false))) {
    problems.push({
      file: enginesFile, pointer: `/engines/${allEngines.indexOf(capped)}/volumesize`,
      message: `engine "${capped.name}": a size-capped volume needs the image ${holderImage} (built by engines/build), which the Docker engine does not have`,
    });
  }
  const warnings: string[] = [];
  if (!facts.userns) warnings.push('the Docker daemon does not remap users (userns-remap): container root is host root');
  if (!facts.seccomp) warnings.push('the Docker daemon has no seccomp support: engines run without a system call filter');
  if (!facts.apparmor && engines.some((e) => e.containment.apparmor)) warnings.push('this host has no AppArmor: engine AppArmor profiles are not enforced');
  return { problems, warnings };
}

import type Docker from 'dockerode';
import type { Engine } from '../engines/engines.js';
import type { ConfigProblem } from '../errors.js';
import { LABELS } from '../contract/labels.js';
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

/**
 * Every read-only volume an engine mounts (engines.json `volumes`) must exist, labelled
 * `org.menagerie.engine-data=<deployment>`: Docker would otherwise create it empty at the
 * first job, and the Docker API proxy refuses it. Returns the problems.
 */
export async function checkEngineVolumes(docker: Docker, engines: readonly Engine[], deployment: string, enginesFile: string, allEngines: readonly Engine[] = engines): Promise<ConfigProblem[]> {
  const wanted = engines.flatMap((e) => Object.entries(e.containment.volumes ?? {}).map(([target, name]) => ({ e, target, name })));
  if (wanted.length === 0) return [];
  const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABELS.engineData}=${deployment}`] } });
  const present = new Set((Volumes ?? []).map((v) => v.Name));
  return wanted.filter((w) => !present.has(w.name)).map((w) => ({
    file: enginesFile, pointer: `/engines/${allEngines.indexOf(w.e)}/volumes`,
    message: `engine "${w.e.name}": the volume ${w.name} (read-only at ${w.target}) does not exist with the label ${LABELS.engineData}=${deployment} (docs/engines.md says how to create and fill it)`,
  }));
}

import type Docker from 'dockerode';
import { dirname, join } from 'node:path';
import type { Engine } from '../../engines/engines.js';
import { kitDeployment } from '../../contract/labels.js';
import { DockerRunner } from '../runner.js';
import { formatReport, runKit } from './kit.js';
import type { Logger } from '../../log/logger.js';

/**
 * The gate a reload puts every new or changed engine through: its conformance kit, run in
 * containers labelled with their own deployment (`<deployment>-kit`) so that no sweeper of
 * the live deployment mistakes them for jobs. Resolves to why the engine failed, if it did.
 */
export function conformanceGate(docker: Docker, deployment: string, enginesFile: string, log: Logger): (engine: Engine) => Promise<string | undefined> {
  const kit = kitDeployment(deployment);
  const runner = new DockerRunner(docker, kit);
  return async (engine) => {
    try {
      const report = await runKit({ engine, engineDir: join(dirname(enginesFile), engine.name), dispatcher: runner, docker, deployment: kit });
      for (const line of formatReport(report).split('\n')) log.info({ engine: engine.name, passed: report.passed }, `conformance: ${line}`);
      if (report.passed) return undefined;
      return report.grades.filter((g) => !g.pass).map((g) => `${g.case}: ${g.outcome} (${g.detail})`).join('; ');
    } catch (err) {
      const why = (err as Error).message;
      // On the appliance: the proxy judges by the engines.json it read last.
      const hint = /refused by the Docker API proxy/.test(why) ? ' (has the Docker API proxy re-read engines.json? send it SIGHUP first; `menagerie engines reload` does)' : '';
      return `the kit could not run: ${why}${hint}`;
    }
  };
}

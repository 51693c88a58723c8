#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from './config/config.js';
import { loadEngines } from './engines/engines.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { runCleanup } from './cleanup.js';
import { startFrontend } from './frontend.js';
import { startMenage } from './menage.js';

const HELP = `usage: menagerie <command> [--config FILE]

commands:
  frontend        public API and the internal API for workers (owns MySQL and the store)
  menage          the worker controller: runs engine containers for queued jobs
  docker-proxy    the Docker API proxy menage goes through: only menage's endpoints, only policy-conforming containers
  enforcer        the container policy enforcer (see docs/enforcer.md; takes its own --config)
  cleanup         remove finished jobs older than retention.days (rows, then files); --dry-run to count
  check-config    validate the configuration and engines.json, report every problem, exit
  engines list    each engine's pinned image tag and digest, and whether the Docker engine has it
  engines reload  SIGHUP to frontend and menage: they re-read engines.json while running
                  (--pid PID, repeatable, for processes outside the appliance's containers)
  engine test [NAME...]  the conformance kit: golden samples and the hostile set, as a table

options:
  --config FILE   global configuration (default: $MENAGERIE_CONFIG or /etc/menagerie/config.json)
  --engines FILE  engines.json, for the engine commands without a global configuration
  --docker SOCK   the Docker engine of the engine commands (default: /var/run/docker.sock)
  -h, --help      this help
`;

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

/** Waits for SIGTERM or SIGINT, then runs `close` once; a second signal exits at once. */
function onSignals(close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    log(`${signal}: shutting down`);
    close().then(() => process.exit(0), (err: Error) => {
      log(`shutdown failed: ${err.message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** SIGHUP re-reads engines.json; a refused reload changes nothing and says why. */
function onReload(reload: () => Promise<unknown>): void {
  process.on('SIGHUP', () => {
    log('SIGHUP: reloading engines.json');
    reload().catch((err: Error) => log(`engines reload refused, nothing changed: ${err.message}`));
  });
}

/** `engines list|reload`, `engine test`: operator commands on the engines. */
async function engineCommand(command: string, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: {
    config: { type: 'string' }, engines: { type: 'string' }, docker: { type: 'string' },
    pid: { type: 'string', multiple: true }, project: { type: 'string' },
  } });
  const [sub, ...names] = positionals;
  const { listEngines, signalReload, testEngines } = await import('./menage/conformance/commands.js');
  const problems: ConfigProblem[] = [];
  const enginesFile = values.engines ?? loadConfig(values.config ?? process.env.MENAGERIE_CONFIG ?? '/etc/menagerie/config.json').enginesFile;
  const engines = loadEngines(enginesFile, process.env, problems);
  if (problems.length) throw new ConfigError(problems);
  const o = { engines, enginesFile, docker: values.docker ?? '/var/run/docker.sock', out: (t: string) => process.stdout.write(t) };
  if (command === 'engines' && sub === 'list') return listEngines(o);
  if (command === 'engines' && sub === 'reload') return signalReload(o, (values.pid ?? []).map(Number), values.project ?? 'menagerie');
  if (command === 'engine' && sub === 'test') return testEngines(o, names);
  process.stderr.write(`menagerie: unknown command "${command} ${sub ?? ''}"\n\n${HELP}`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  if (command === 'enforcer') {
    const { runEnforcer } = await import('./enforcer.js');
    await runEnforcer(rest);
    return -1;
  }
  if (command === 'engine' || command === 'engines') return engineCommand(command, rest);
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, 'dry-run': { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = values.config ?? process.env.MENAGERIE_CONFIG ?? '/etc/menagerie/config.json';
  const config: Config = loadConfig(file);
  switch (command) {
    case 'check-config':
      process.stdout.write(`${file}: ok (${config.engines.length} engines: ${config.engines.map((e) => e.name).join(', ')})\n`);
      return 0;
    case 'cleanup':
      await runCleanup(config, log, { dryRun: values['dry-run'] === true });
      return 0;
    case 'frontend': {
      const f = await startFrontend(config, log);
      log(`frontend listening on ${config.listen.host}:${config.listen.port} (${f.url}), internal API on ${f.internalUrl}`);
      onSignals(() => f.close());
      onReload(() => f.reload());
      return -1;
    }
    case 'menage': {
      const m = await startMenage(config, log);
      log(`menage running ${m.consumers.length} engine queues`);
      onSignals(() => m.close());
      onReload(() => m.reload());
      return -1;
    }
    case 'docker-proxy': {
      const { startDockerProxy } = await import('./docker-proxy.js');
      const p = await startDockerProxy(config, log);
      log(`docker-proxy listening on ${p.url}, forwarding to ${config.dockerProxy.dockerSocket}`);
      onSignals(() => p.close());
      return -1;
    }
    default:
      process.stderr.write(`menagerie: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, (err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`menagerie: ${err.message}\n`);
  else process.stderr.write(`menagerie: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});

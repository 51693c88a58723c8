#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from './config/config.js';
import { loadEngines } from './engines/engines.js';
import { AppError, ConfigError, type ConfigProblem } from './errors.js';
import { runCleanup } from './cleanup.js';
import { startFrontend } from './frontend.js';
import { startMenage } from './menage.js';
import { createLogger, type Logger, type ProcessName } from './log/logger.js';

const HELP = `usage: menagerie <command> [--config FILE]

client commands (any machine with Node; server and token from --url/--token or
$MENAGERIE_URL/$MENAGERIE_TOKEN; menagerie submit --help for details):
  submit, status, result, jobs, cancel

appliance commands:
  frontend        public API and the internal API for workers (owns MySQL and the store)
  menage          the worker controller: runs engine containers for queued jobs
  docker-proxy    the Docker API proxy menage goes through: only menage's endpoints, only policy-conforming containers
  enforcer        the container policy enforcer (see docs/enforcer.md; takes its own --config)
  cleanup         remove finished jobs older than retention.days (rows, then files); --dry-run to count
  token           create, list or revoke API tokens (menagerie token --help)
  check-config    validate the configuration and engines.json, report every problem, exit
  engines list    each engine's pinned image tag and digest, and whether the Docker engine has it
  engines reload  SIGHUP to docker-proxy, menage and frontend: they re-read engines.json while
                  running (--pid PID, repeatable, for processes outside the appliance's containers)
  engine test [NAME...]  the conformance kit: golden samples and the hostile set, as a table

options:
  --config FILE   global configuration (default: $MENAGERIE_CONFIG or /etc/menagerie/config.json)
  --engines FILE  engines.json, for the engine commands without a global configuration
  --docker SOCK   the Docker engine of the engine commands (default: /var/run/docker.sock)
  -h, --help      this help
  --version       the version
`;

/** Commands that read the configuration. */
const SERVICE_COMMANDS = new Set(['check-config', 'cleanup', 'frontend', 'menage', 'docker-proxy']);

/** Commands of the API client: they need a server URL, not a configuration. */
const CLIENT_COMMANDS = new Set(['submit', 'status', 'result', 'jobs', 'cancel']);

/** Waits for SIGTERM or SIGINT, then runs `close` once; a second signal exits at once. */
function onSignals(log: Logger, close: () => Promise<void>): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    log.info({ signal }, `${signal}: shutting down`);
    close().then(() => {
      log.info('shut down');
      process.exit(0);
    }, (err: Error) => {
      log.error({ err }, `shutdown failed: ${err.message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** SIGHUP re-reads engines.json; a refused reload changes nothing and says why. */
function onReload(log: Logger, reload: () => Promise<unknown>): void {
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading engines.json');
    reload().catch((err: Error) => log.error({ err }, `engines reload refused, nothing changed: ${err.message}`));
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
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`menagerie ${await version()}\n`);
    return 0;
  }
  if (CLIENT_COMMANDS.has(command)) return clientCommand(command, rest);
  if (command === 'token') return tokenCommand(rest);
  if (command === 'engine' || command === 'engines') return engineCommand(command, rest);
  if (!SERVICE_COMMANDS.has(command)) {
    process.stderr.write(`menagerie: unknown command "${command}"\n\n${HELP}`);
    return 2;
  }
  const { values } = parseArgs({ args: rest, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, 'dry-run': { type: 'boolean' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const file = values.config ?? process.env.MENAGERIE_CONFIG ?? '/etc/menagerie/config.json';
  // Only the frontend serves the internal listener: the services beside it never get its key.
  const config: Config = loadConfig(file, process.env, { internalTls: command === 'frontend' || command === 'check-config' });
  switch (command) {
    case 'check-config':
      process.stdout.write(`${file}: ok (${config.engines.length} engines: ${config.engines.map((e) => e.name).join(', ')})\n`);
      return 0;
    case 'cleanup':
      await runCleanup(config, createLogger('cleanup', config.log.level), { dryRun: values['dry-run'] === true });
      return 0;
    case 'frontend': {
      const log = createLogger('frontend', config.log.level);
      const f = await startFrontend(config, log);
      log.info({ url: f.url, internalUrl: f.internalUrl }, `frontend listening on ${config.listen.host}:${config.listen.port} (${f.url}), internal API on ${f.internalUrl}`);
      onSignals(log, () => f.close());
      onReload(log, () => f.reload());
      return -1;
    }
    case 'menage': {
      const log = createLogger('menage', config.log.level);
      const m = await startMenage(config, log);
      const nodeLog = log.child({ node: m.node });
      nodeLog.info({ queues: m.consumers.length, ops: m.opsUrl }, `menage running ${m.consumers.length} engine queues; /metrics, /healthz and /readyz on ${m.opsUrl}`);
      onSignals(nodeLog, () => m.close());
      onReload(nodeLog, () => m.reload());
      return -1;
    }
    case 'docker-proxy': {
      const { startDockerProxy } = await import('./docker-proxy.js');
      const log = createLogger('docker-proxy', config.log.level);
      const p = await startDockerProxy(config, log);
      log.info({ url: p.url }, `docker-proxy listening on ${p.url}, forwarding to ${config.dockerProxy.dockerSocket}`);
      onSignals(log, () => p.close());
      onReload(log, () => p.reload());
      return -1;
    }
    default:
      process.stderr.write(`menagerie: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

/** The package's version (package.json beside dist/). */
async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** `menagerie submit|status|result|jobs|cancel`: usage and API errors are one line, exit 2. */
async function clientCommand(command: string, args: string[]): Promise<number> {
  const { runClientCommand, describeFailure, CLIENT_HELP, EXIT } = await import('./client/commands.js');
  const { processTerminal } = await import('./client/terminal.js');
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(CLIENT_HELP);
    return 0;
  }
  try {
    return await runClientCommand(command, args, processTerminal);
  } catch (err) {
    process.stderr.write(`menagerie ${command}: ${describeFailure(err)}`);
    return EXIT.error;
  }
}

/** `menagerie token ...`: straight to the database, with the configuration's key. */
async function tokenCommand(args: string[]): Promise<number> {
  const { runTokenCommand, TOKEN_HELP } = await import('./auth/token-command.js');
  if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
    process.stdout.write(TOKEN_HELP);
    return args.length === 0 ? 2 : 0;
  }
  const at = args.indexOf('--config');
  const file = (at >= 0 ? args[at + 1] : undefined) ?? process.env.MENAGERIE_CONFIG ?? '/etc/menagerie/config.json';
  const config = loadConfig(file, process.env, { internalTls: false });
  const { TokenStore } = await import('./auth/token-store.js');
  const { authKey, databaseOptions } = await import('./frontend.js');
  const key = authKey(config) ?? config.auth.key;
  if (!key) throw new ConfigError([{ file, pointer: '/auth/key', message: 'API tokens need auth.key (the secret they are hashed with)' }]);
  const store = new TokenStore(databaseOptions(config));
  try {
    return await runTokenCommand(args, { store, key, out: (t) => process.stdout.write(t) });
  } finally {
    await store.close();
  }
}

/** The services: their output is their log, so a failed start is logged there too, as a JSON line. */
const LOGGING_SERVICES: ReadonlySet<string> = new Set<ProcessName>(['frontend', 'menage', 'enforcer', 'docker-proxy', 'cleanup']);

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exit(code);
}, (err: unknown) => {
  // Usage and configuration errors, and errors the app describes, are one line; a stack
  // trace only for a bug.
  const usage = err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
  const service = process.argv[2] ?? '';
  if (LOGGING_SERVICES.has(service)) {
    const fields = { err, ...(err instanceof ConfigError ? { problems: err.problems } : {}) };
    createLogger(service as ProcessName).fatal(fields, `${service} cannot start: ${(err as Error).message?.split('\n')[0] ?? String(err)}`);
  }
  if (usage || err instanceof AppError) process.stderr.write(`menagerie: ${(err as Error).message}\n`);
  else process.stderr.write(`menagerie: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(usage || (err instanceof AppError && err.status < 500) ? 2 : 1);
});

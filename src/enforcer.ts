/**
 * Composition root of `menagerie enforcer`: reads the config and rules, builds the Docker
 * client, wires the detection sources (periodic scan, events, AuthZ plugin), the judge and
 * the HTTP API, and handles signals (SIGTERM/SIGINT close, SIGHUP reloads the rules).
 */
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import type Koa from 'koa';
import { InvalidError } from './errors.js';
import { createApiApp } from './enforcer/api.js';
import { createAuthzApp } from './enforcer/authz.js';
import { loadEnforcerConfig, type EnforcerConfig, type Listen } from './enforcer/config.js';
import { DetectionLog } from './enforcer/detections.js';
import { EventWatcher } from './enforcer/events.js';
import { Judge } from './enforcer/judge.js';
import { loggerLog, type Log } from './enforcer/log.js';
import { createLogger } from './log/logger.js';
import { answerClientErrors, HOST_CHECKED_BY_APP, requireHost } from './http/client-errors.js';
import { PeriodicScan } from './enforcer/periodic.js';
import { EnforcerMetrics } from './enforcer/prometheus.js';
import { loadRules } from './enforcer/rules.js';
import { Scanner } from './enforcer/scanner.js';
import { Triggers } from './enforcer/triggers.js';

/** A running enforcer: its parts (for tests and operators) and its lifecycle. */
export interface RunningEnforcer {
  readonly judge: Judge;
  readonly scanner: Scanner;
  readonly detections: DetectionLog;
  readonly metrics: EnforcerMetrics;
  readonly watcher?: EventWatcher;
  /** http://host:port (or unix://path) of the API, when enabled. */
  readonly apiAddress?: string;
  /** tcp://host:port (or unix://path) of the AuthZ plugin, as a plugin spec file wants it. */
  readonly authzAddress?: string;
  /** Re-reads the rules file and swaps it in atomically; keeps the old rules on error. */
  reload(): boolean;
  /** Stops every source and server; safe to call twice. */
  close(): Promise<void>;
}

/** The wired parts every source and server shares. */
interface Parts {
  readonly config: EnforcerConfig;
  readonly docker: Docker;
  readonly log: Log;
  readonly metrics: EnforcerMetrics;
  readonly detections: DetectionLog;
  readonly triggers: Triggers;
  readonly judge: Judge;
  readonly scanner: Scanner;
}

type Closers = Array<() => Promise<void>>;

/** Starts an enforcer from a validated config; `docker` defaults to the configured socket. */
export async function startEnforcer(config: EnforcerConfig, opts: { docker?: Docker; log?: Log; eventBackoffMs?: number } = {}): Promise<RunningEnforcer> {
  const log = opts.log ?? loggerLog(createLogger('enforcer', config.log.level));
  const docker = opts.docker ?? new Docker({ socketPath: config.docker.socketPath });
  const metrics = new EnforcerMetrics();
  const detections = new DetectionLog(config.history);
  const triggers = new Triggers(config.triggers, log, metrics);
  const judge = new Judge({ docker, config, log, metrics, detections, triggers }, loadRules(config.rulesFile));
  metrics.rulesLoaded.set({}, judge.currentRules().rules.length);
  const scanner = new Scanner({ docker, judge, detections, metrics, log, stats: config.stats });
  const parts: Parts = { config, docker, log, metrics, detections, triggers, judge, scanner };
  const closers: Closers = [];
  let started: Partial<Record<'apiAddress' | 'authzAddress', string>>;
  try {
    started = await startServers(parts, closers);
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
  const watcher = startSources(parts, closers, opts.eventBackoffMs);
  log('info', 'enforcer started', { rules: judge.currentRules().hash, ...started });
  let closing: Promise<void> | undefined;
  return {
    judge, scanner, detections, metrics, ...(watcher ? { watcher } : {}), ...started,
    reload: () => reloadRules(config, judge, metrics, log),
    close: () => (closing ??= closeAll(closers)),
  };
}

async function startServers(p: Parts, closers: Closers): Promise<Partial<Record<'apiAddress' | 'authzAddress', string>>> {
  const started: Partial<Record<'apiAddress' | 'authzAddress', string>> = {};
  const { config } = p;
  if (config.api) {
    const api = createApiApp({ ...p, ready: { docker: () => p.docker.ping() }, ...(config.api.token ? { token: config.api.token } : {}) });
    started.apiAddress = await serve(api, config.api.listen, 'http', closers);
  }
  if (config.authz) {
    const authz = createAuthzApp({ ...p, denyPrivilegedExec: config.authz.denyPrivilegedExec });
    started.authzAddress = await serve(authz, config.authz.listen, 'tcp', closers);
  }
  return started;
}

function startSources(p: Parts, closers: Closers, eventBackoffMs?: number): EventWatcher | undefined {
  const { config, scanner, log } = p;
  const watcher = config.events ? new EventWatcher({ ...p, ...(eventBackoffMs ? { backoffMs: eventBackoffMs } : {}) }) : undefined;
  if (watcher) {
    watcher.start();
    closers.unshift(() => watcher.close());
  }
  if (config.periodic) {
    const periodic = new PeriodicScan(scanner, { intervalMs: config.periodic.intervalSeconds * 1000, immediate: config.periodic.immediate }, log);
    periodic.start();
    closers.unshift(() => periodic.close());
  }
  return watcher;
}

function reloadRules(config: EnforcerConfig, judge: Judge, metrics: EnforcerMetrics, log: Log): boolean {
  try {
    const rules = loadRules(config.rulesFile);
    judge.swapRules(rules);
    metrics.rulesLoaded.set({}, rules.rules.length);
    metrics.reloads.inc({ result: 'ok' });
    log('info', 'rules reloaded', { hash: rules.hash, count: rules.rules.length });
    return true;
  } catch (err) {
    metrics.reloads.inc({ result: 'failed' });
    log('error', 'rules reload refused; keeping the rules in force', { error: (err as Error).message });
    return false;
  }
}

async function serve(app: Koa, listen: Listen, scheme: 'http' | 'tcp', closers: Closers): Promise<string> {
  // As the frontend's listeners: requests Node's parser refuses, and HTTP/1.1 without Host,
  // get the JSON error shape, not Node's bare 400.
  const server: Server = createServer({ ...HOST_CHECKED_BY_APP }, requireHost(app.callback()));
  answerClientErrors(server);
  if ('socket' in listen) rmSync(listen.socket, { force: true });
  server.listen('socket' in listen ? listen.socket : { host: listen.host, port: listen.port });
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
  closers.push(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  if ('socket' in listen) return `unix://${listen.socket}`;
  const addr = server.address() as { address: string; port: number };
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return `${scheme}://${host}:${addr.port}`;
}

async function closeAll(closers: Closers): Promise<void> {
  const results = await Promise.allSettled(closers.map((c) => c()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

const USAGE = 'usage: menagerie enforcer --config FILE [--check]';

/** `menagerie enforcer --config FILE [--check]`: runs until SIGTERM/SIGINT; SIGHUP reloads rules. */
export async function runEnforcer(argv: string[]): Promise<void> {
  let values: { config?: string; check?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string' }, check: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } }));
  } catch (err) {
    throw new InvalidError('ENFORCER_USAGE', `${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (!values.config) throw new InvalidError('ENFORCER_USAGE', USAGE);
  const config = loadEnforcerConfig(values.config, process.env);
  const rules = loadRules(config.rulesFile);
  if (values.check) return void process.stdout.write(`config and ${rules.rules.length} rules OK (rules sha256 ${rules.hash})\n`);
  const enforcer = await startEnforcer(config);
  const onHup = () => void enforcer.reload();
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.off('SIGHUP', onHup);
  await enforcer.close();
}

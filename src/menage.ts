import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Config } from './config/config.js';
import { dockerOptions } from './docker-proxy/endpoint.js';
import { evaluateCreate, formatViolations, loadRules } from './enforcer/index.js';
import type { Engine } from './engines/engines.js';
import { EngineRegistry, type EngineChanges } from './engines/registry.js';
import { ConfigError } from './errors.js';
import { buildContainerSpec } from './menage/container-spec.js';
import { Breaker } from './menage/breaker.js';
import { conformanceGate } from './menage/conformance/gate.js';
import { checkDaemon, checkEngineVolumes } from './menage/daemon-check.js';
import { reloadEngines } from './menage/engine-reload.js';
import { ensureImages } from './menage/image-pull.js';
import { EngineSlots } from './menage/engine-slots.js';
import { FrontendClient } from './menage/frontend-client.js';
import { OrphanSweeper } from './menage/orphans.js';
import { DockerRunner, type ContainerDispatcher } from './menage/runner.js';
import { createJobHandler } from './menage/worker.js';
import { EngineReporter } from './menage/engine-reporter.js';
import { RunningJobs } from './menage/running-jobs.js';
import { CancelListener } from './queue/cancels.js';
import { BrokerConnection, brokerTls } from './queue/connection.js';
import { EngineConsumer } from './queue/consumer.js';
import type { Logger } from './log/logger.js';
import { MenageMetrics } from './metrics/menage-metrics.js';
import { listenOps } from './http/ops-server.js';
import { Registry } from 'prom-client';

/** A running menage (worker controller). */
export interface Menage {
  readonly consumers: EngineConsumer[];
  /** The name this node gives its leases and containers (menage.node, default hostname:pid). */
  readonly node: string;
  /** The operations listener (menage.listen): /metrics, /healthz, /readyz. */
  readonly opsUrl: string;
  /**
   * Re-reads engines.json (`menagerie engines reload`, SIGHUP): new and changed engines must
   * pass policy, image and conformance checks, then start; old versions drain. Nothing
   * changes when any check fails (the promise rejects with the reasons).
   */
  reload(): Promise<EngineChanges>;
  close(graceMs?: number): Promise<void>;
}

/** Composition root of menage: one consumer per engine with `workers` slots each. */
export async function startMenage(config: Config, log: Logger, options: { dispatcher?: ContainerDispatcher; node?: string } = {}): Promise<Menage> {
  // A socket path (the daemon) or a tcp:// URL (the Docker API proxy: docs/containment.md).
  const started = Date.now();
  const docker = new Docker(dockerOptions(config.menage.dockerSocket));
  await docker.ping().catch((err: Error) => {
    throw new Error(`the Docker engine at ${config.menage.dockerSocket} does not answer: ${err.message}`);
  });
  checkPolicy(config);
  const running = new RunningJobs();
  let engines = (): readonly Engine[] => [];
  const metrics = new MenageMetrics(new Registry(), {
    engines: () => engines().map((e) => e.name), busy: (e) => running.busy(e), total: (e) => engines().find((x) => x.name === e)?.workers ?? 0,
  });
  const client = frontendClient(config);
  const node = options.node ?? config.menage.node ?? `${hostname()}:${process.pid}`;
  // Every line of this node names it (several menage nodes may log to one place).
  log = log.child({ node });
  const dispatcher = options.dispatcher ?? new DockerRunner(docker, config.rabbitmq.prefix, {
    graceMs: config.jobs.reapGraceSeconds * 1000, removeBehind: true, dockerError: (op) => metrics.dockerError(op), warm: { node, log },
  });
  const wanted = config.menage.engines.length ? config.engines.filter((e) => config.menage.engines.includes(e.name)) : config.engines;
  await ensureImages(docker, wanted, config.enginesFile, log);
  const daemon = await checkDaemon(docker, wanted, config.enginesFile, config.engines);
  for (const warning of daemon.warnings) log.warn(warning);
  daemon.problems.push(...(await checkEngineVolumes(docker, wanted, config.rabbitmq.prefix, config.enginesFile, config.engines)));
  if (daemon.problems.length) throw new ConfigError(daemon.problems);
  const broker = new BrokerConnection(config.rabbitmq.url, brokerTls(config));
  broker.on('lost', () => log.warn('broker connection lost; reconnecting'));
  // Any answer to a status request (even "no such job") shows the frontend and its database work.
  const breaker = new Breaker({ log, probes: { docker: () => docker.ping(), frontend: () => client.health() } });
  const registry = new EngineRegistry(wanted);
  engines = () => registry.list();
  const slots = new EngineSlots({
    log, graceMs: config.menage.shutdownGraceSeconds * 1000,
    consumerFor: (engine) => {
      dispatcher.prepare?.(engine);
      return new EngineConsumer(broker, {
        prefix: config.rabbitmq.prefix, engine: engine.name, slots: engine.workers, log,
        handle: createJobHandler({ engine, client, dispatcher, node, log, breaker, running, metrics }),
      });
    },
  });
  // A cancelled job's container is stopped as soon as the broadcast arrives.
  const cancels = new CancelListener(broker, config.rabbitmq.prefix, (m) => void running.cancel(m.jobId), log);
  await cancels.start();
  breaker.on('open', () => slots.pause());
  breaker.on('close', () => slots.resume());
  await slots.start(wanted);
  const reporter = new EngineReporter({
    engines: () => registry.list(), node, log, intervalMs: config.menage.statusIntervalSeconds * 1000,
    imageId: (image) => docker.getImage(image).inspect().then((i) => i.Id, () => null),
    busy: (name) => running.busy(name),
    send: (report) => client.reportEngines(report),
  });
  await reporter.start();
  // Leftovers of this deployment (crash, lost lease) are removed now and every 30 s, in the background.
  const sweeper = new OrphanSweeper({
    docker, deployment: config.rabbitmq.prefix, lookup: (id) => client.status(id), containerLookup: (id) => client.containerJob(id), self: { node, since: started }, log,
  });
  void sweeper.start();
  // Readiness: each dependency on its own, bounded in time (src/metrics/readiness.ts).
  const ops = await listenOps({
    registry: metrics.registry, ...(config.menage.metricsToken ? { token: config.menage.metricsToken } : {}),
    checks: { broker: async () => void (await broker.get()), docker: () => docker.ping(), frontend: () => client.health() },
  }, config.menage.listen.host, config.menage.listen.port).catch(async (err: Error) => {
    reporter.close();
    await Promise.allSettled([slots.close(0), sweeper.close(), cancels.close()]);
    breaker.close();
    client.close();
    await broker.close();
    throw new Error(`menage cannot listen on ${config.menage.listen.host}:${config.menage.listen.port} (menage.listen): ${err.message}`);
  });
  let closing: Promise<void> | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  const gate = conformanceGate(docker, config.rabbitmq.prefix, config.enginesFile, log);
  log.info({ engines: wanted.map((e) => e.name) }, `menage node ${node}: engines ${wanted.map((e) => e.name).join(', ')}`);
  return {
    node,
    opsUrl: ops.url,
    get consumers() {
      return slots.all();
    },
    reload() {
      // One reload at a time: a second SIGHUP waits for the first.
      const next = reloading.catch(() => undefined).then(() => reloadEngines({
        docker, deployment: config.rabbitmq.prefix, enginesFile: config.enginesFile, only: config.menage.engines, registry, slots, log,
        checkPolicy: (engines) => checkPolicy(config, engines), conformance: gate,
      }));
      reloading = next;
      // A removed engine's idle pooled containers go (a changed one's are replaced as it starts).
      void next.then((changes) => changes.removed.forEach((e) => dispatcher.retire?.(e.name)), () => undefined);
      // A new version runs another image: the frontend learns it now, not an interval later.
      void next.then(() => reporter.report(), () => undefined);
      return next;
    },
    close(graceMs = config.menage.shutdownGraceSeconds * 1000) {
      closing ??= (async () => {
        reporter.close();
        await Promise.allSettled([slots.close(graceMs), sweeper.close(), cancels.close()]);
        await dispatcher.close?.();
        await ops.close();
        breaker.close();
        client.close();
        await broker.close();
      })();
      return closing;
    },
  };
}

/**
 * The client of the frontend's internal API: a worker node uses its own (revocable) worker
 * token, the frontend's host may use the shared one; an https:// URL is checked against the CA.
 */
function frontendClient(config: Config): FrontendClient {
  const token = config.menage.token ?? config.internalToken;
  if (!token) throw new ConfigError([{ file: 'configuration', pointer: '/menage/token', message: 'menage needs menage.token (this node\'s worker token) or internalToken' }]);
  return new FrontendClient(config.menage.frontendUrl, token, config.menage.frontendCa ? { ca: readFileSync(config.menage.frontendCa) } : {});
}

/**
 * The policy gate: every engine's container settings must pass the enforcer's rules (the
 * same rule engine, in process) or menage refuses to start, naming engine and rule.
 */
export function checkPolicy(config: Config, engines: readonly Engine[] = config.engines): void {
  const rules = loadRules(config.menage.policyRules);
  const problems = engines.flatMap((engine) => {
    const spec = buildContainerSpec(engine, { deployment: config.rabbitmq.prefix, jobId: '1', attempt: 1, node: 'policy-check', deadline: 0 });
    const violations = evaluateCreate(rules, spec);
    return violations.length === 0 ? [] : [{
      file: config.enginesFile, pointer: `/engines/${engines.indexOf(engine)}`,
      message: `engine "${engine.name}" breaks policy ${config.menage.policyRules}: ${formatViolations(violations)}`,
    }];
  });
  if (problems.length) throw new ConfigError(problems);
}

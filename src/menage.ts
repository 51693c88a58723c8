import Docker from 'dockerode';
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
import { EngineSlots } from './menage/engine-slots.js';
import { FrontendClient } from './menage/frontend-client.js';
import { OrphanSweeper } from './menage/orphans.js';
import { DockerRunner, type ContainerDispatcher } from './menage/runner.js';
import { createJobHandler } from './menage/worker.js';
import { BrokerConnection } from './queue/connection.js';
import { EngineConsumer } from './queue/consumer.js';

/** A running menage (worker controller). */
export interface Menage {
  readonly consumers: EngineConsumer[];
  /**
   * Re-reads engines.json (`menagerie engines reload`, SIGHUP): new and changed engines must
   * pass policy, image and conformance checks, then start; old versions drain. Nothing
   * changes when any check fails (the promise rejects with the reasons).
   */
  reload(): Promise<EngineChanges>;
  close(graceMs?: number): Promise<void>;
}

/** Composition root of menage: one consumer per engine with `workers` slots each. */
export async function startMenage(config: Config, log: (line: string) => void, options: { dispatcher?: ContainerDispatcher; node?: string } = {}): Promise<Menage> {
  // A socket path (the daemon) or a tcp:// URL (the Docker API proxy: docs/containment.md).
  const docker = new Docker(dockerOptions(config.menage.dockerSocket));
  await docker.ping().catch((err: Error) => {
    throw new Error(`the Docker engine at ${config.menage.dockerSocket} does not answer: ${err.message}`);
  });
  checkPolicy(config);
  const dispatcher = options.dispatcher ?? new DockerRunner(docker, config.rabbitmq.prefix, config.jobs.reapGraceSeconds * 1000);
  const client = new FrontendClient(config.menage.frontendUrl, config.internalToken);
  const node = options.node ?? `${hostname()}:${process.pid}`;
  const wanted = config.menage.engines.length ? config.engines.filter((e) => config.menage.engines.includes(e.name)) : config.engines;
  const daemon = await checkDaemon(docker, wanted, config.enginesFile, config.engines);
  for (const warning of daemon.warnings) log(`warning: ${warning}`);
  daemon.problems.push(...(await checkEngineVolumes(docker, wanted, config.rabbitmq.prefix, config.enginesFile, config.engines)));
  if (daemon.problems.length) throw new ConfigError(daemon.problems);
  const broker = new BrokerConnection(config.rabbitmq.url);
  broker.on('lost', () => log('broker connection lost; reconnecting'));
  // Any answer to a status request (even "no such job") shows the frontend and its database work.
  const breaker = new Breaker({ log, probes: { docker: () => docker.ping(), frontend: () => client.health() } });
  const registry = new EngineRegistry(wanted);
  const slots = new EngineSlots({
    log, graceMs: config.menage.shutdownGraceSeconds * 1000,
    consumerFor: (engine) => new EngineConsumer(broker, {
      prefix: config.rabbitmq.prefix, engine: engine.name, slots: engine.workers, log,
      handle: createJobHandler({ engine, client, dispatcher, node, log, breaker }),
    }),
  });
  breaker.on('open', () => slots.pause());
  breaker.on('close', () => slots.resume());
  await slots.start(wanted);
  // Leftovers of this deployment (crash, lost lease) are removed now and every 30 s, in the background.
  const sweeper = new OrphanSweeper({ docker, deployment: config.rabbitmq.prefix, lookup: (id) => client.status(id), log });
  void sweeper.start();
  let closing: Promise<void> | undefined;
  let reloading: Promise<unknown> = Promise.resolve();
  const gate = conformanceGate(docker, config.rabbitmq.prefix, config.enginesFile, log);
  return {
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
      return next;
    },
    close(graceMs = config.menage.shutdownGraceSeconds * 1000) {
      closing ??= (async () => {
        await Promise.allSettled([slots.close(graceMs), sweeper.close()]);
        breaker.close();
        await broker.close();
      })();
      return closing;
    },
  };
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

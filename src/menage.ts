import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Config } from './config/config.js';
import { dockerOptions } from './docker-proxy/endpoint.js';
import { evaluateCreate, formatViolations, loadRules } from './enforcer/index.js';
import { ConfigError } from './errors.js';
import { buildContainerSpec } from './menage/container-spec.js';
import { Breaker } from './menage/breaker.js';
import { checkDaemon } from './menage/daemon-check.js';
import { FrontendClient } from './menage/frontend-client.js';
import { OrphanSweeper } from './menage/orphans.js';
import { DockerRunner, type ContainerDispatcher } from './menage/runner.js';
import { createJobHandler } from './menage/worker.js';
import { BrokerConnection, brokerTls } from './queue/connection.js';
import { EngineConsumer } from './queue/consumer.js';

/** A running menage (worker controller). */
export interface Menage {
  consumers: EngineConsumer[];
  /** The name this node gives its leases and containers. */
  node: string;
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
  // A worker node uses its own (revocable) worker token; the frontend's host may use the shared one.
  const token = config.menage.token ?? config.internalToken;
  if (!token) throw new ConfigError([{ file: 'configuration', pointer: '/menage/token', message: 'menage needs menage.token (this node\'s worker token) or internalToken' }]);
  const client = new FrontendClient(config.menage.frontendUrl, token,
    config.menage.frontendCa ? { ca: readFileSync(config.menage.frontendCa) } : {});
  const node = options.node ?? config.menage.node ?? `${hostname()}:${process.pid}`;
  const wanted = config.menage.engines.length ? config.engines.filter((e) => config.menage.engines.includes(e.name)) : config.engines;
  const daemon = await checkDaemon(docker, wanted, config.enginesFile, config.engines);
  for (const warning of daemon.warnings) log(`warning: ${warning}`);
  if (daemon.problems.length) throw new ConfigError(daemon.problems);
  const broker = new BrokerConnection(config.rabbitmq.url, brokerTls(config));
  broker.on('lost', () => log('broker connection lost; reconnecting'));
  // Any answer to a status request (even "no such job") shows the frontend and its database work.
  const breaker = new Breaker({ log, probes: { docker: () => docker.ping(), frontend: () => client.health() } });
  const consumers = wanted.map((engine) => new EngineConsumer(broker, {
    prefix: config.rabbitmq.prefix, engine: engine.name, slots: engine.workers, log,
    handle: createJobHandler({ engine, client, dispatcher, node, log, breaker }),
  }));
  breaker.on('open', () => consumers.forEach((c) => c.pause()));
  breaker.on('close', () => consumers.forEach((c) => c.resume()));
  await Promise.all(consumers.map((c) => c.start()));
  // Leftovers of this deployment (crash, lost lease) are removed now and every 30 s, in the background.
  const sweeper = new OrphanSweeper({ docker, deployment: config.rabbitmq.prefix, lookup: (id) => client.status(id), log });
  void sweeper.start();
  let closing: Promise<void> | undefined;
  log(`menage node ${node}: engines ${wanted.map((e) => e.name).join(', ')}`);
  return {
    consumers, node,
    close(graceMs = config.menage.shutdownGraceSeconds * 1000) {
      closing ??= (async () => {
        await Promise.allSettled([...consumers.map((c) => c.close(graceMs)), sweeper.close()]);
        breaker.close();
        client.close();
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
export function checkPolicy(config: Config): void {
  const rules = loadRules(config.menage.policyRules);
  const problems = config.engines.flatMap((engine) => {
    const spec = buildContainerSpec(engine, { deployment: config.rabbitmq.prefix, jobId: '1', attempt: 1, node: 'policy-check', deadline: 0 });
    const violations = evaluateCreate(rules, spec);
    return violations.length === 0 ? [] : [{
      file: config.enginesFile, pointer: `/engines/${config.engines.indexOf(engine)}`,
      message: `engine "${engine.name}" breaks policy ${config.menage.policyRules}: ${formatViolations(violations)}`,
    }];
  });
  if (problems.length) throw new ConfigError(problems);
}

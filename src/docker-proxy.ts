import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/config.js';
import { loadEngines, type Engine } from './engines/engines.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { policyFrom, type ProxyPolicy } from './docker-proxy/policy.js';
import { createProxyServer } from './docker-proxy/server.js';
import { getFromDocker } from './docker-proxy/upstream.js';
import { loadRules } from './enforcer/index.js';
import { HOLDER_IMAGE } from './menage/capped-volume.js';
import type { Logger } from './log/logger.js';

/** A running Docker API proxy. */
export interface DockerProxy {
  /** Where menage reaches it: `http://host:port`, or the unix socket path. */
  readonly url: string;
  /**
   * Re-reads engines.json (SIGHUP, `menagerie engines reload`): the next request is judged
   * by the new engines' policy together with every earlier one since start (menage may still
   * run an old version: it refused the new one, or drains it). A file with any problem
   * changes nothing (the promise rejects). A restart forgets the old versions.
   */
  reload(): Promise<string[]>;
  close(): Promise<void>;
}

/** Overrides for tests: another socket behind it, another listen address. */
export interface DockerProxyOptions {
  socketPath?: string;
  listen?: { host: string; port: number } | { socket: string };
}

/**
 * Composition root of the Docker API proxy: the engine policy of this deployment (its
 * engines, its queue prefix as the deployment label, menage's policy rules) in front of the
 * Docker socket, listening where menage reaches it.
 */
export async function startDockerProxy(config: Config, log: Logger, options: DockerProxyOptions = {}): Promise<DockerProxy> {
  const socketPath = options.socketPath ?? config.dockerProxy.dockerSocket;
  const policyOf = (engines: readonly Engine[]): ProxyPolicy => policyFrom({
    deployment: config.rabbitmq.prefix, engines, holderImage: HOLDER_IMAGE,
    rules: loadRules(config.menage.policyRules), maxJsonBytes: config.dockerProxy.maxJsonBytes,
  });
  // Not fatal: the daemon may be restarting; every request opens the socket anew.
  await getFromDocker(socketPath, '/_ping', 5000).catch((err: Error) => log.warn({ err }, `the Docker daemon at ${socketPath} does not answer yet: ${err.message}`));
  // Every engine version seen since start stays allowed: after a reload menage may still run
  // the old one (its kit refused the new, or its jobs drain), and the proxy cannot tell.
  let allowed: readonly Engine[] = config.engines;
  const serverOptions = { policy: policyOf(allowed), socketPath, registryAuth: registryAuthHeader(config.dockerProxy.registryAuth), log };
  const server = createProxyServer(serverOptions);
  const listen = options.listen ?? (config.dockerProxy.listen.socket ? { socket: config.dockerProxy.listen.socket } : config.dockerProxy.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if ('socket' in listen) server.listen(listen.socket, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  let closing: Promise<void> | undefined;
  return {
    url: urlOf(server),
    async reload() {
      const problems: ConfigProblem[] = [];
      const engines = loadEngines(config.enginesFile, process.env, problems);
      if (problems.length) throw new ConfigError(problems);
      allowed = [...allowed, ...engines];
      serverOptions.policy = policyOf(allowed);
      const images = [...serverOptions.policy.images].sort();
      log.info({ images }, `docker-proxy: policy reloaded from ${config.enginesFile}: images ${images.join(', ')}`);
      return images;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Streams (events, attach, wait) would hold the server open: end them.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Docker's X-Registry-Auth: the JSON credentials in padded base64url (Go's URLEncoding); none without a username. */
export function registryAuthHeader(auth: Config['dockerProxy']['registryAuth']): string | undefined {
  if (!auth?.username) return undefined;
  const { username, password, serveraddress } = auth;
  return Buffer.from(JSON.stringify({ username, password, serveraddress })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

function urlOf(server: Server): string {
  const a = server.address();
  if (typeof a === 'string') return a;
  const { address, port } = a as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

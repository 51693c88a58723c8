import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/config.js';
import { apiRouters } from './api/v1.js';
import { Authenticator } from './auth/authenticator.js';
import { TokenStore } from './auth/token-store.js';
import { EngineRegistry, type EngineChanges } from './engines/registry.js';
import { UploadReload } from './engines/upload-reload.js';
import { ConfigError, UnavailableError } from './errors.js';
import { createApp, createInternalApp } from './http/app.js';
import { answerClientErrors } from './http/client-errors.js';
import { failWaitingJobsOfRemovedEngines } from './jobs/engine-removal.js';
import { Reaper } from './jobs/reaper.js';
import { JobService } from './jobs/service.js';
import { JobStore } from './jobs/store.js';
import { BrokerConnection } from './queue/connection.js';
import { DeadLetterConsumer } from './queue/dead-letters.js';
import { QueueDepths } from './queue/depth.js';
import { Publisher } from './queue/publisher.js';
import { FileStore } from './storage/file-store.js';

/** A running frontend. */
export interface Frontend {
  /** The public API. */
  url: string;
  /** The internal API (workers, enforcer). */
  internalUrl: string;
  service: JobService;
  store: JobStore;
  reaper: Reaper;
  /** Re-reads engines.json (`menagerie engines reload`, SIGHUP): uploads go to the engines it lists. */
  reload(): Promise<EngineChanges>;
  close(): Promise<void>;
}

/** Composition root of the frontend: wires store, queue, files and the HTTP app, and listens. */
export async function startFrontend(config: Config, log: (line: string) => void): Promise<Frontend> {
  const key = authKey(config);
  const store = new JobStore(databaseOptions(config));
  const tokens = new TokenStore(databaseOptions(config));
  const broker = new BrokerConnection(config.rabbitmq.url);
  const cleanups: (() => Promise<unknown>)[] = [() => broker.close(), () => store.close(), () => tokens.close()];
  const close = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: Error) => log(`close: ${e.message}`));
  };
  try {
    const applied = await store.migrate();
    if (applied.length) log(`database migrated: ${applied.join(', ')}`);
    const files = new FileStore(config.store.dir);
    await files.init();
    const publisher = new Publisher(broker, config.rabbitmq.prefix, config.engines.map((e) => e.name));
    cleanups.push(() => publisher.close());
    await publisher.start();
    const registry = new EngineRegistry(config.engines);
    const service = new JobService({
      store, files, queue: publisher, engines: registry,
      maxAttempts: config.jobs.maxAttempts, graceMs: config.jobs.reapGraceSeconds * 1000, leaseMs: config.jobs.leaseSeconds * 1000,
      infrastructureTimeoutMs: config.jobs.infrastructureTimeoutSeconds * 1000,
    });
    const health = async (): Promise<void> => {
      await store.ping();
      if (!broker.connected) await publisher.start().catch((err: unknown) => {
        throw new UnavailableError('BROKER_UNAVAILABLE', 'the job queue is not available', { cause: err });
      });
    };
    const uploads = { maxConcurrent: config.uploads.maxConcurrent, idleTimeoutMs: config.uploads.idleTimeoutSeconds * 1000,
      rate: { perMinute: config.auth.uploadsPerMinute, burst: config.auth.uploadBurst } };
    const auth = key === undefined
      ? new Authenticator({ mode: 'open', ...(config.auth.key ? { key: config.auth.key, store: tokens } : {}) })
      : new Authenticator({ mode: 'tokens', key, store: tokens });
    if (auth.mode === 'open') {
      log('WARNING: auth.mode is "open": anyone who can reach the public API can submit jobs and read every result');
    }
    const queueDepth = new QueueDepths(broker, config.rabbitmq.prefix);
    const routers = apiRouters({ service, auth, engines: () => registry.list(), queueDepth });
    const app = createApp({ service, files, health, log, uploads, auth, routers });
    const server = await listen(app.callback(), config.listen.host, config.listen.port);
    cleanups.push(() => closeServer(server));
    const internalApp = createInternalApp({ service, internalToken: config.internalToken, auth, health, log });
    const internalServer = await listen(internalApp.callback(), config.internalListen.host, config.internalListen.port);
    cleanups.push(() => closeServer(internalServer));
    const reaper = new Reaper({ store, service, intervalMs: Math.min(5000, config.jobs.leaseSeconds * 500), unqueuedGraceMs: config.jobs.reapGraceSeconds * 1000, log,
      infrastructureTimeoutMs: config.jobs.infrastructureTimeoutSeconds * 1000, settleMs: config.jobs.leaseSeconds * 1000 });
    reaper.start();
    cleanups.push(() => reaper.close());
    cleanups.push(sweepTmpPeriodically(files, config.uploads.idleTimeoutSeconds * 1000, log));
    const deadLetters = new DeadLetterConsumer(broker, {
      prefix: config.rabbitmq.prefix, engines: config.engines.map((e) => e.name), log,
      handle: (m, n) => service.deadLettered(m.jobId, n),
    });
    deadLetters.start();
    cleanups.push(() => deadLetters.close());
    const gone = (engine: string): boolean => registry.active(engine) === undefined;
    const uploadReload = new UploadReload({
      file: config.enginesFile, registry, log, waitMs: config.jobs.reloadWaitSeconds * 1000,
      declare: (engines) => publisher.addEngines(engines),
      served: async (engine) => ((await queueDepth.consumers(engine)) ?? 0) > 0,
      failWaiting: (engines) => failWaitingJobsOfRemovedEngines(service, gone, engines),
    });
    const reload = (): Promise<EngineChanges> => uploadReload.reload();
    // Jobs left waiting for an engine engines.json lost while the frontend was down.
    failWaitingJobsOfRemovedEngines(service, gone).then((n) => {
      if (n) log(`${n} waiting job${n === 1 ? '' : 's'} of engines no longer configured failed: engine removed`);
    }, (err: Error) => log(`failing the waiting jobs of removed engines: ${err.message}`));
    return { url: urlOf(server, config.listen.host), internalUrl: urlOf(internalServer, config.internalListen.host), service, store, reaper, reload, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The database settings of the configuration, for mysql2 pools. */
export function databaseOptions(config: Config) {
  return {
    host: config.mysql.host, port: config.mysql.port, user: config.mysql.user, password: config.mysql.password,
    database: config.mysql.database, connectionLimit: config.mysql.connectionLimit,
    ...(config.mysql.socketPath ? { socketPath: config.mysql.socketPath } : {}),
  };
}

/** The key API tokens are hashed with; undefined in the open mode. Tokens mode needs one. */
export function authKey(config: Config): string | undefined {
  if (config.auth.mode === 'open') return undefined;
  if (!config.auth.key) {
    throw new ConfigError([{ file: 'configuration', pointer: '/auth/key',
      message: 'auth.mode "tokens" (the default) needs auth.key: a secret of at least 32 characters that API tokens are hashed with' }]);
  }
  return config.auth.key;
}

function urlOf(server: Server, host: string): string {
  const { port } = server.address() as AddressInfo;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

/**
 * The backstop behind the upload path's own cleanup: every few minutes, temporary files
 * nobody wrote to for well over the upload idle timeout are removed. Returns the stopper.
 */
function sweepTmpPeriodically(files: FileStore, idleMs: number, log: (line: string) => void): () => Promise<void> {
  const maxAgeMs = Math.max(10 * 60_000, 4 * idleMs);
  const timer = setInterval(() => {
    files.sweepTmp(maxAgeMs).then((n) => {
      if (n) log(`store: removed ${n} stale temporary file${n === 1 ? '' : 's'}`);
    }, (err: Error) => log(`store: sweeping temporary files failed: ${err.message}`));
  }, TMP_SWEEP_INTERVAL_MS);
  timer.unref();
  return async () => clearInterval(timer);
}

/** How often stale temporary files are swept. */
const TMP_SWEEP_INTERVAL_MS = 5 * 60_000;

async function listen(handler: RequestListener, host: string, port: number): Promise<Server> {
  const server = createServer({ requestTimeout: 600_000, headersTimeout: 30_000 }, handler);
  answerClientErrors(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 5000).unref();
  });
}

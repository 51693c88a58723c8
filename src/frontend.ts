import { createServer, type RequestListener, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/config.js';
import { apiRouters } from './api/v1.js';
import { Authenticator } from './auth/authenticator.js';
import { TokenStore } from './auth/token-store.js';
import { jobRecord } from './jobs/record.js';
import { EngineRegistry, type EngineChanges } from './engines/registry.js';
import { EngineStatusBoard } from './engines/status.js';
import { UploadReload } from './engines/upload-reload.js';
import { ConfigError, UnavailableError } from './errors.js';
import { createApp, createInternalApp } from './http/app.js';
import { answerClientErrors, HOST_CHECKED_BY_APP, requireHost } from './http/client-errors.js';
import { UploadGate } from './http/submit-upload.js';
import { JobControl } from './jobs/control.js';
import { failWaitingJobsOfRemovedEngines } from './jobs/engine-removal.js';
import { IdempotencyStore } from './jobs/idempotency-store.js';
import { ResultCacheStore } from './jobs/result-cache.js';
import { Submissions } from './jobs/submission.js';
import { WebhookOutbox } from './jobs/webhook-outbox.js';
import { Reaper } from './jobs/reaper.js';
import { JobService } from './jobs/service.js';
import { JobContainers } from './jobs/job-containers.js';
import { JobStore } from './jobs/store.js';
import { MonitorQueries } from './jobs/monitor-queries.js';
import { CONSOLE_DIR, consoleRouters, enforcerPolicy } from './console/index.js';
import { BrokerConnection, brokerTls } from './queue/connection.js';
import { DeadLetterConsumer } from './queue/dead-letters.js';
import { CancelPublisher } from './queue/cancels.js';
import { QueueDepths } from './queue/depth.js';
import { Publisher } from './queue/publisher.js';
import { FileStore } from './storage/file-store.js';
import { FrontendMetrics } from './metrics/frontend-metrics.js';
import { Registry } from 'prom-client';
import { WebhookDispatcher } from './webhooks/dispatcher.js';
import type { Logger } from './log/logger.js';

/** A running frontend. */
export interface Frontend {
  /** The public API. */
  url: string;
  /** The internal API (workers, enforcer). */
  internalUrl: string;
  service: JobService;
  store: JobStore;
  reaper: Reaper;
  /** What menage nodes report about the engines (image digests, slots): the EngineStatusSource. */
  engineStatus: EngineStatusBoard;
  /** The metrics served at /metrics. */
  metrics: FrontendMetrics;
  /** Re-reads engines.json (`menagerie engines reload`, SIGHUP): uploads go to the engines it lists. */
  reload(): Promise<EngineChanges>;
  close(): Promise<void>;
}

/** Composition root of the frontend: wires store, queue, files and the HTTP app, and listens. */
export async function startFrontend(config: Config, log: Logger): Promise<Frontend> {
  const key = authKey(config);
  const webhookSecret = webhooksSecret(config);
  if (!config.internalToken) {
    throw new ConfigError([{ file: 'configuration', pointer: '/internalToken', message: 'the frontend needs internalToken: the shared secret of its internal API (16 characters or more)' }]);
  }
  const store = new JobStore(databaseOptions(config));
  const tokens = new TokenStore(store.pool);
  const broker = new BrokerConnection(config.rabbitmq.url, brokerTls(config));
  const cleanups: (() => Promise<unknown>)[] = [() => broker.close(), () => store.close(), () => tokens.close()];
  const close = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err: Error) => log.error({ err }, `close: ${err.message}`));
  };
  try {
    const applied = await store.migrate();
    if (applied.length) log.info({ migrations: applied }, `database migrated: ${applied.join(', ')}`);
    const files = new FileStore(config.store.dir);
    await files.init();
    const publisher = new Publisher(broker, config.rabbitmq.prefix, config.engines.map((e) => e.name));
    cleanups.push(() => publisher.close());
    await publisher.start();
    const registry = new EngineRegistry(config.engines);
    const engineStatus = new EngineStatusBoard(config.menage.statusIntervalSeconds * 4000);
    const queueDepth = new QueueDepths(broker, config.rabbitmq.prefix);
    const metrics = new FrontendMetrics(new Registry(), {
      engines: () => registry.list().map((e) => e.name), depth: (e) => queueDepth.depth(e), slots: (e) => engineStatus.slots(e),
    });
    const service = new JobService({
      store, files, queue: publisher, engines: registry, observer: { stage: (s, t) => metrics.stage(s, t), finished: (job) => metrics.finished(job) },
      maxAttempts: config.jobs.maxAttempts, graceMs: config.jobs.reapGraceSeconds * 1000, leaseMs: config.jobs.leaseSeconds * 1000,
      infrastructureTimeoutMs: config.jobs.infrastructureTimeoutSeconds * 1000, log,
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
      log.warn('auth.mode is "open": anyone who can reach the public API can submit jobs and read every result');
    }
    const cancels = new CancelPublisher(broker, config.rabbitmq.prefix);
    cleanups.push(() => cancels.close());
    const control = new JobControl({ service, files, notifier: cancels, log });
    const keys = new IdempotencyStore(store.pool);
    const submissions = new Submissions({ service, files, cache: new ResultCacheStore(store.pool), keys, digests: engineStatus,
      cached: (engine) => metrics.cached(engine) });
    const gate = new UploadGate(uploads.maxConcurrent, uploads.rate, (t, bytes) => metrics.uploaded(t, bytes));
    const callbackPrefixes = config.webhooks.allowedPrefixes;
    const queries = new MonitorQueries(databaseOptions(config));
    cleanups.push(() => queries.close());
    const routers = [
      ...apiRouters({
        service, auth, engines: () => registry.list(), engineStatus, queueDepth,
        jobControl: { control, submissions, files, gate, idleTimeoutMs: uploads.idleTimeoutMs, callbackPrefixes },
      }),
      ...consoleRouters({ queries, auth, engines: () => registry.list().map((e) => e.name),
        policy: enforcerPolicy(config.console.enforcerUrl, config.console.enforcerToken), ...(config.console.enabled ? { dir: CONSOLE_DIR } : {}) }),
    ];
    // Readiness: each dependency on its own, so a 503 names the one that does not answer.
    const ready = {
      database: () => store.ping(),
      broker: async () => (broker.connected ? undefined : publisher.start()),
      store: () => files.probe(),
    };
    const app = createApp({ service, files, health, log, uploads, auth, submissions, gate, callbackPrefixes, routers, metrics, ready });
    const server = await listen(app.callback(), config.listen.host, config.listen.port);
    cleanups.push(() => closeServer(server));
    const internalApp = createInternalApp({
      service, internalToken: config.internalToken, auth, health, log, engines: engineStatus, containers: new JobContainers(store.pool),
    });
    const internalServer = await listen(internalApp.callback(), config.internalListen.host, config.internalListen.port, tlsFiles(config.internalListen));
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
    if (webhookSecret !== undefined) {
      const webhooks = new WebhookDispatcher({
        outbox: new WebhookOutbox(store.pool), secret: webhookSecret, log,
        record: async (id) => {
          const job = await store.get(id);
          return job && jobRecord(job);
        },
        maxAttempts: config.webhooks.maxAttempts, timeoutMs: config.webhooks.timeoutSeconds * 1000, firstRetryMs: config.webhooks.firstRetrySeconds * 1000,
      });
      webhooks.start();
      cleanups.push(() => webhooks.close());
    }
    cleanups.push(purgeKeysPeriodically(keys, log));
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
      if (n) log.warn({ failed: n }, `${n} waiting job${n === 1 ? '' : 's'} of engines no longer configured failed: engine removed`);
    }, (err: Error) => log.error({ err }, `failing the waiting jobs of removed engines: ${err.message}`));
    // First thing at close: requests waiting for a job to end (`?wait=`) answer now.
    cleanups.push(async () => service.watch.close());
    return { url: urlOf(server, config.listen.host), internalUrl: urlOf(internalServer, config.internalListen.host, config.internalListen.cert ? 'https' : 'http'),
      service, store, reaper, engineStatus, metrics, reload, close };
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

/** The webhook signing secret; callbacks allowed (webhooks.allowedPrefixes) need one. */
export function webhooksSecret(config: Config): string | undefined {
  if (config.webhooks.allowedPrefixes.length > 0 && !config.webhooks.secret) {
    throw new ConfigError([{ file: 'configuration', pointer: '/webhooks/secret',
      message: 'webhooks.allowedPrefixes allows callbacks, so webhooks.secret is needed: at least 32 characters that deliveries are signed with' }]);
  }
  return config.webhooks.allowedPrefixes.length > 0 ? config.webhooks.secret : undefined;
}

/** Idempotency keys older than 24 hours are removed hourly. Returns the stopper. */
function purgeKeysPeriodically(keys: IdempotencyStore, log: Logger): () => Promise<void> {
  const timer = setInterval(() => {
    keys.purge(new Date()).catch((err: Error) => log.error({ err }, `idempotency keys: purge failed: ${err.message}`));
  }, 3600_000);
  timer.unref();
  return async () => clearInterval(timer);
}

function urlOf(server: Server, host: string, scheme = 'http'): string {
  const { port } = server.address() as AddressInfo;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

/** The internal listener's certificate and key (PEM), read now; undefined for plain HTTP. */
function tlsFiles(l: Config['internalListen']): { cert: Buffer; key: Buffer } | undefined {
  return l.cert && l.key ? { cert: readFileSync(l.cert), key: readFileSync(l.key) } : undefined;
}

/**
 * The backstop behind the upload path's own cleanup: every few minutes, temporary files
 * nobody wrote to for well over the upload idle timeout are removed. Returns the stopper.
 */
function sweepTmpPeriodically(files: FileStore, idleMs: number, log: Logger): () => Promise<void> {
  const maxAgeMs = Math.max(10 * 60_000, 4 * idleMs);
  const timer = setInterval(() => {
    files.sweepTmp(maxAgeMs).then((n) => {
      if (n) log.info({ removed: n }, `store: removed ${n} stale temporary file${n === 1 ? '' : 's'}`);
    }, (err: Error) => log.error({ err }, `store: sweeping temporary files failed: ${err.message}`));
  }, TMP_SWEEP_INTERVAL_MS);
  timer.unref();
  return async () => clearInterval(timer);
}

/** How often stale temporary files are swept. */
const TMP_SWEEP_INTERVAL_MS = 5 * 60_000;

async function listen(handler: RequestListener, host: string, port: number, tls?: { cert: Buffer; key: Buffer }): Promise<Server> {
  const options = { requestTimeout: 600_000, headersTimeout: 30_000, ...HOST_CHECKED_BY_APP };
  // HTTPS for worker nodes on other hosts; TLS 1.2 at least (Node's default minimum).
  const server: Server = tls ? createHttpsServer({ ...options, ...tls }, requireHost(handler)) : createServer(options, requireHost(handler));
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

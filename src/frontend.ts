import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/config.js';
import { UnavailableError } from './errors.js';
import { createApp } from './http/app.js';
import { Reaper } from './jobs/reaper.js';
import { JobService } from './jobs/service.js';
import { JobStore } from './jobs/store.js';
import { BrokerConnection } from './queue/connection.js';
import { DeadLetterConsumer } from './queue/dead-letters.js';
import { Publisher } from './queue/publisher.js';
import { FileStore } from './storage/file-store.js';

/** A running frontend. */
export interface Frontend {
  url: string;
  service: JobService;
  store: JobStore;
  reaper: Reaper;
  close(): Promise<void>;
}

/** Composition root of the frontend: wires store, queue, files and the HTTP app, and listens. */
export async function startFrontend(config: Config, log: (line: string) => void): Promise<Frontend> {
  const store = new JobStore({
    host: config.mysql.host, port: config.mysql.port, user: config.mysql.user, password: config.mysql.password,
    database: config.mysql.database, connectionLimit: config.mysql.connectionLimit,
    ...(config.mysql.socketPath ? { socketPath: config.mysql.socketPath } : {}),
  });
  const broker = new BrokerConnection(config.rabbitmq.url);
  const cleanups: (() => Promise<unknown>)[] = [() => broker.close(), () => store.close()];
  const close = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((e: Error) => log(`close: ${e.message}`));
  };
  try {
    const applied = await store.migrate();
    if (applied.length) log(`database migrated: ${applied.join(', ')}`);
    const files = new FileStore(config.store.dir);
    await files.init();
    const publisher = new Publisher(broker, config.rabbitmq.prefix, config.engines.map((e) => e.name));
    await publisher.start();
    const service = new JobService({
      store, files, queue: publisher, engines: config.engines,
      maxAttempts: config.jobs.maxAttempts, graceMs: config.jobs.reapGraceSeconds * 1000, leaseMs: config.jobs.leaseSeconds * 1000,
      infrastructureTimeoutMs: config.jobs.infrastructureTimeoutSeconds * 1000,
    });
    const health = async (): Promise<void> => {
      await store.ping();
      if (!broker.connected) await publisher.start().catch((err: unknown) => {
        throw new UnavailableError('BROKER_UNAVAILABLE', 'the job queue is not available', { cause: err });
      });
    };
    const app = createApp({ service, files, internalToken: config.internalToken, health, log });
    const server = await listen(app.callback(), config.listen.host, config.listen.port);
    cleanups.push(() => closeServer(server));
    const reaper = new Reaper({ store, service, intervalMs: Math.min(5000, config.jobs.leaseSeconds * 500), unqueuedGraceMs: config.jobs.reapGraceSeconds * 1000, log,
      infrastructureTimeoutMs: config.jobs.infrastructureTimeoutSeconds * 1000, settleMs: config.jobs.leaseSeconds * 1000 });
    reaper.start();
    cleanups.push(() => reaper.close());
    const deadLetters = new DeadLetterConsumer(broker, {
      prefix: config.rabbitmq.prefix, engines: config.engines.map((e) => e.name), log,
      handle: (m, n) => service.deadLettered(m.jobId, n),
    });
    deadLetters.start();
    cleanups.push(() => deadLetters.close());
    const { port } = server.address() as AddressInfo;
    const host = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host;
    return { url: `http://${host}:${port}`, service, store, reaper, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function listen(handler: RequestListener, host: string, port: number): Promise<Server> {
  const server = createServer({ requestTimeout: 600_000, headersTimeout: 30_000 }, handler);
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

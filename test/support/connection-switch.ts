import { createServer, type Server, type Socket } from 'node:net';

/**
 * A listener that passes every connection to a service while on; switched off, it stops
 * listening and cuts its open connections, as when the service stops. The base of the Docker
 * socket switch and the TCP switch: a process pointed at one sees an outage without the shared
 * service (and the other suites on it) being disturbed.
 */
export class ConnectionSwitch {
  readonly #dial: () => Socket;
  readonly #open = new Set<Socket>();
  #server: Server | undefined;

  constructor(dial: () => Socket) {
    this.#dial = dial;
  }

  get isOn(): boolean {
    return this.#server !== undefined;
  }

  /** Starts passing connections through, the server listening where `listen` says. */
  protected async start(listen: (server: Server) => Promise<void>): Promise<Server | undefined> {
    if (this.#server) return undefined;
    const server = createServer((client) => {
      const service = this.#dial();
      for (const s of [client, service]) {
        this.#open.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.#open.delete(s);
          client.destroy();
          service.destroy();
        });
      }
      client.pipe(service).pipe(client);
    });
    server.on('error', () => undefined);
    await listen(server);
    this.#server = server;
    return server;
  }

  /** Stops listening and cuts every open connection. */
  protected async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#open) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

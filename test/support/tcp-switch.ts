import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP port that passes connections to a service (the shared broker, say) while on; switched
 * off, it stops listening and cuts its open connections, as when the service stops. A process
 * pointed at it sees an outage without the shared service being disturbed. The port stays the
 * same across off and on.
 */
export class TcpSwitch {
  readonly #target: { host: string; port: number };
  readonly #open = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** Starts passing connections through (on a free port the first time, the same one after). */
  async on(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      const service = connect(this.#target.port, this.#target.host);
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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and cuts every open connection. */
  async off(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#open) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

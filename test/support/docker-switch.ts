import { mkdir, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

/**
 * A Docker API socket that can be switched off and on: it passes every connection to the
 * real daemon's socket while on; switched off, its socket is gone and its open connections
 * are cut, as when the daemon stops. Menage pointed at it sees a Docker outage without the
 * shared daemon (and the other suites on it) being disturbed.
 */
export class DockerSwitch {
  readonly socket: string;
  readonly #target: string;
  readonly #open = new Set<Socket>();
  #server: Server | undefined;

  constructor(socket: string, target = '/var/run/docker.sock') {
    this.socket = socket;
    this.#target = target;
  }

  /** Starts passing connections through. */
  async on(): Promise<void> {
    if (this.#server) return;
    await mkdir(dirname(this.socket), { recursive: true });
    await rm(this.socket, { force: true });
    const server = createServer((client) => {
      const daemon = connect(this.#target);
      for (const s of [client, daemon]) {
        this.#open.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          this.#open.delete(s);
          client.destroy();
          daemon.destroy();
        });
      }
      client.pipe(daemon).pipe(client);
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(this.socket, resolve));
    this.#server = server;
  }

  /** Removes the socket and cuts every open connection. */
  async off(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#open) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
    await rm(this.socket, { force: true });
  }

  async close(): Promise<void> {
    await this.off();
    await rm(dirname(this.socket), { recursive: true, force: true });
  }
}

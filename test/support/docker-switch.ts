import { mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { ConnectionSwitch } from './connection-switch.js';

/**
 * A Docker API socket that can be switched off and on: it passes every connection to the
 * real daemon's socket while on; switched off, its socket is gone and its open connections
 * are cut, as when the daemon stops. Menage pointed at it sees a Docker outage without the
 * shared daemon (and the other suites on it) being disturbed.
 */
export class DockerSwitch extends ConnectionSwitch {
  readonly socket: string;

  constructor(socket: string, target = '/var/run/docker.sock') {
    super(() => connect(target));
    this.socket = socket;
  }

  /** Starts passing connections through. */
  async on(): Promise<void> {
    if (this.isOn) return;
    await mkdir(dirname(this.socket), { recursive: true });
    await rm(this.socket, { force: true });
    await this.start((server) => new Promise<void>((resolve) => server.listen(this.socket, resolve)));
  }

  /** Removes the socket and cuts every open connection. */
  async off(): Promise<void> {
    await this.stop();
    await rm(this.socket, { force: true });
  }

  async close(): Promise<void> {
    await this.off();
    await rm(dirname(this.socket), { recursive: true, force: true });
  }
}

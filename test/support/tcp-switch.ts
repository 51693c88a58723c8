import { connect, type AddressInfo } from 'node:net';
import { ConnectionSwitch } from './connection-switch.js';

/**
 * A TCP port that passes connections to a service (the shared broker, say) while on; switched
 * off, it stops listening and cuts its open connections, as when the service stops. The port
 * stays the same across off and on.
 */
export class TcpSwitch extends ConnectionSwitch {
  port = 0;

  constructor(target: { host: string; port: number }) {
    super(() => connect(target.port, target.host));
  }

  /** Starts passing connections through (on a free port the first time, the same one after). */
  async on(): Promise<void> {
    const server = await this.start((s) => new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(this.port, '127.0.0.1', () => resolve());
    }));
    if (server) this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every open connection. */
  off(): Promise<void> {
    return this.stop();
  }
}

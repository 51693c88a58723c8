import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { PrivateDockerd } from '../../support/private-services.js';
import { runJob, startProxyEnv, type ProxyEnv } from './helpers.js';

describe('docker-proxy: survives a Docker daemon restart', function () {
  this.timeout(180_000);
  // A private dockerd: restarting the shared one would break everyone else's tests.
  const daemon = new PrivateDockerd(randomBytes(4).toString('hex'));
  let env: ProxyEnv | undefined;

  before(async () => {
    await daemon.start();
    daemon.loadImages(['menagerie-test/behave:latest', 'menagerie/busybox:latest']);
    env = await startProxyEnv(daemon.socket);
  });
  after(async () => {
    await env?.close().catch(() => undefined);
    await daemon.destroy();
  });

  it('runs jobs before and after the daemon restarts (a new socket), without being restarted itself', async () => {
    const first = await runJob(env!, 'copy', 'before the restart');
    expect(first.ok, first.detail).to.equal(true);
    await daemon.stop();
    const down = await env!.viaProxy.ping().then(() => 'up', (err: { statusCode?: number }) => err.statusCode);
    expect(down, 'the daemon is down: the proxy says so').to.equal(502);
    await daemon.start();
    const second = await runJob(env!, 'capped', 'after the restart');
    expect(second.ok, second.detail).to.equal(true);
    expect(second.result).to.equal('after the restart');
  });
});

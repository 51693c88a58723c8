import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, sh } from '../support/appliance-faults.js';
import { unique } from '../support/services.js';

/**
 * appliance/menageriectl on a compose project of its own (real Docker, real docker-compose),
 * so that the provisioned appliance is not touched: status must report every service and
 * fail for a stopped, missing or unhealthy one; the watcher must bring them back.
 */
describe('e2e: menageriectl status and watch', function () {
  this.timeout(180_000);
  let dir: string;
  let env: string;
  let watcher: ChildProcess | undefined;
  const project = unique('mctl');

  const ctl = (args: string): Promise<{ code: number; out: string }> => sh(`${env} ${ROOT}/appliance/menageriectl ${args}`);
  const container = (svc: string): string =>
    `$(docker ps -aq --filter label=com.docker.compose.project=${project} --filter label=com.docker.compose.service=${svc})`;
  const until = async (what: string, ok: () => Promise<boolean>, ms = 60_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > end) throw new Error(`${what} not within ${ms} ms; status:\n${(await ctl('status')).out}`);
      await sleep(500);
    }
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menageriectl-'));
    env = `MENAGERIE_COMPOSE_DIR=${dir} MENAGERIE_PROJECT=${project} MENAGERIE_SUPERVISED=1 MENAGERIE_WAIT=5`;
    const svc = (extra: string): string => `    image: menagerie/busybox:latest
    command: [ "sleep", "3600" ]
    init: true
    restart: unless-stopped
    tmpfs: [ "/tmp" ]
${extra}`;
    await writeFile(join(dir, 'docker-compose.yml'), `version: "2.4"
services:
  alpha:
${svc(`    healthcheck: { test: [ "CMD", "sh", "-c", "! test -e /tmp/sick" ], interval: 1s, timeout: 2s, retries: 1 }`)}
  beta:
${svc('')}
  gamma:
${svc('    profiles: [ extra ]')}
`);
    const up = await ctl('start');
    expect(up.code, up.out).to.equal(0);
  });
  after(async () => {
    watcher?.kill('SIGTERM');
    await ctl('down');
    await rm(dir, { recursive: true, force: true });
  });

  it('reports each active service with state and health, and exits 0 when all are well', async () => {
    await until('healthy', async () => (await ctl('status')).code === 0);
    const { out } = await ctl('status');
    expect(out.trim().split('\n').sort()).to.deep.equal(['alpha running healthy', 'beta running none']);
  });

  it('exits 3 for a killed, a missing and an unhealthy service, naming it', async () => {
    await sh(`docker kill ${container('beta')}`);
    let r = await ctl('status');
    expect([r.code, r.out]).to.deep.equal([3, r.out]);
    expect(r.out).to.match(/^beta exited none$/m);
    await sh(`docker rm -f ${container('beta')}`);
    r = await ctl('status');
    expect(r.code).to.equal(3);
    expect(r.out).to.match(/^beta missing none$/m);
    await sh(`docker exec ${container('alpha')} touch /tmp/sick`);
    await until('alpha unhealthy', async () => /^alpha running unhealthy$/m.test((await ctl('status')).out));
    expect((await ctl('status')).code).to.equal(3);
  });

  it('watch brings back the missing service and restarts the one that stays unhealthy', async () => {
    watcher = spawn('bash', ['-c', `${env} MENAGERIE_WATCH_INTERVAL=1 MENAGERIE_WATCH_RESTART_AFTER=3 exec ${ROOT}/appliance/menageriectl watch`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    watcher.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    watcher.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await until('all well again', async () => (await ctl('status')).code === 0, 90_000);
    expect(log).to.match(/starting services that are not running/).and.match(/restarting alpha: unhealthy/);
  });
});

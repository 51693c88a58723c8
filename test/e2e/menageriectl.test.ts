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

/**
 * docker-compose 1.x asks "Continue with the new image? [yN]" on stdin when it must recreate
 * a container whose image is gone (a stopped stack whose image was removed, then rebuilt):
 * `start` (the install's last step) hung on it, or failed on a closed stdin. It now removes
 * such containers first, and only those.
 */
describe('e2e: menageriectl start after the image of a stopped stack was removed', function () {
  this.timeout(240_000);
  let dir: string;
  let env: string;
  const project = unique('mctlimg');
  const tag = `menagerie/${project}:latest`;

  const ctl = (args: string, timeoutMs?: number): Promise<{ code: number; out: string }> =>
    sh(`${env} ${ROOT}/appliance/menageriectl ${args}`, timeoutMs);
  /** A new image under the same tag (a label makes its id new): what a rebuild does. */
  const build = async (version: number): Promise<void> => {
    const r = await sh(`printf 'FROM menagerie/busybox:latest\\nLABEL org.menagerie.test=${version}\\n' | docker build -q -t ${tag} -`);
    expect(r.code, r.out).to.equal(0);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menageriectl-'));
    env = `MENAGERIE_COMPOSE_DIR=${dir} MENAGERIE_PROJECT=${project} MENAGERIE_SUPERVISED=1 MENAGERIE_WAIT=5`;
    await writeFile(join(dir, 'docker-compose.yml'), `version: "2.4"
services:
  alpha:
    image: ${tag}
    command: [ "sleep", "3600" ]
    init: true
    volumes: [ "data:/data" ]
volumes:
  data: {}
`);
  });
  after(async () => {
    await ctl('down');
    await sh(`docker volume rm -f ${project}_data; docker image rm -f ${tag}`);
    await rm(dir, { recursive: true, force: true });
  });

  it('recreates the service on the new image without asking, its named volume kept', async () => {
    await build(1);
    expect((await ctl('start')).code).to.equal(0);
    const id = `$(docker ps -aq --filter label=com.docker.compose.project=${project} --filter label=com.docker.compose.service=alpha)`;
    expect((await sh(`docker exec ${id} sh -c 'echo kept > /data/mark'`)).code).to.equal(0);
    expect((await ctl('stop')).code).to.equal(0);
    // -f deletes an image that only stopped containers use.
    expect((await sh(`docker image rm -f ${tag}`)).code).to.equal(0);
    await build(2);
    // stdin stays open (execFile's pipe), as under Ansible: a prompt would wait until the timeout.
    const r = await ctl('start', 60_000);
    expect(r.code, r.out).to.equal(0);
    expect(r.out).to.not.match(/Continue with the new image/);
    const running = await sh(`docker inspect -f '{{ .State.Running }} {{ index .Config.Labels "org.menagerie.test" }}' ${id}; docker exec ${id} cat /data/mark`);
    expect(running.out.trim().split('\n')).to.deep.equal(['true 2', 'kept']);
    // Only what had lost its image was made anew: another start leaves the container as it is.
    const first = (await sh(`echo ${id}`)).out.trim();
    expect((await ctl('start')).code).to.equal(0);
    expect((await sh(`echo ${id}`)).out.trim()).to.equal(first).and.to.match(/^[0-9a-f]{12}$/);
  });
});

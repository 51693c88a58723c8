import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { API, JobStream, leftovers, must, sh, startDockerd, status, stopDockerd, waitHealthy } from '../support/appliance-faults.js';
import { applianceAuth } from '../support/appliance.js';

/**
 * The provisioned appliance (the compose stack users run) against what operations do to it,
 * while a stream of md5 jobs runs: daemon restarts, minute-long outages of Docker, MariaDB
 * and RabbitMQ, killed service containers, a restart of the whole stack. After each: every
 * accepted job ends Success, no engine container or volume is left, and the stack is healthy
 * again without any operator action. Prints the figures per fault.
 *
 * It restarts machine-wide services: test/run takes /tmp/menagerie-appliance.lock around it
 * (`test/run faults`), and nothing else should run meanwhile.
 */
/**
 * How the playbook stops and starts the data services on every kind of host (init system or
 * none): Debian's rabbitmq-server init script cannot stop a node it did not start itself.
 */
const SERVICE = '/usr/local/sbin/menagerie-service';

describe('faults: the provisioned appliance survives operations', function () {
  this.timeout(900_000);

  before(async function () {
    this.timeout(3_600_000);
    if (!existsSync('/opt/menagerie/compose/docker-compose.yml')) await must('appliance/install', 3_600_000);
    const ctl = readFileSync('/usr/local/sbin/menageriectl', 'utf8');
    expect(ctl, 'the provisioned menageriectl has no supervisor (watch): provision this tree with appliance/install').to.include('watch)');
    // The supervisor runs from `menageriectl start` (the playbook and the init script call it).
    await must('/usr/local/sbin/menageriectl start', 600_000);
    const healthy = await waitHealthy(300_000);
    expect(healthy, `the appliance is not healthy before the faults:\n${(await status()).out}`).to.be.at.least(0);
  });

  const service = (name: string): string =>
    `docker ps -q --filter label=com.docker.compose.project=menagerie --filter label=com.docker.compose.service=${name}`;

  /** Kills a service's container; `menageriectl status` must report it at once. */
  const kill = async (name: string): Promise<void> => {
    await must(`docker kill $(${service(name)})`);
    const r = await status();
    expect([r.code, r.out], 'status right after the kill').to.satisfy(([code, out]: [number, string]) =>
      code === 3 && new RegExp(`^${name} (exited|restarting|missing) `, 'm').test(out));
  };

  // md5's warm pool (engines.json `warm`, set by `menagerie engines reload`): on for the
  // scenario that restarts dockerd under it, off again before its leftovers are counted.
  const ENGINES = '/etc/menagerie/config/engines.json';
  let enginesBefore = '';
  const waitingPool = async (): Promise<number> => (await must('docker ps -aq --filter label=org.menagerie.role=pool '
    + '--filter label=org.menagerie.engine=md5 --filter status=created')).split('\n').filter(Boolean).length;
  const untilPool = async (want: number): Promise<void> => {
    for (const end = Date.now() + 120_000; (await waitingPool()) !== want;) {
      if (Date.now() > end) throw new Error(`md5's pool did not reach ${want} waiting containers in 120 s`);
      await sleep(1000);
    }
  };
  const setWarm = async (warm: number): Promise<void> => {
    const list = JSON.parse(await readFile(ENGINES, 'utf8')) as { engines: { name: string; warm?: number }[] };
    const engines = list.engines.map((e) => (e.name === 'md5' ? { ...e, warm } : e));
    await writeFile(ENGINES, `${JSON.stringify({ ...list, engines }, null, 2)}\n`);
    await must('/usr/local/sbin/menagerie engines reload', 900_000);
    await untilPool(warm);
  };
  /** A job's containment report says whether it ran in a pooled container. */
  const pooledRun = async (): Promise<boolean> => {
    const form = new FormData();
    form.append('upload', new Blob([`pooled after the restart ${Date.now()}`]), 'sample');
    const { jobid } = (await (await fetch(`${API}/md5/upload`, { method: 'POST', body: form, headers: applianceAuth() })).json()) as { jobid: string };
    let job: { status: string; containment: { pooled?: boolean } };
    for (const until = Date.now() + 120_000; ; await sleep(500)) {
      job = (await (await fetch(`${API}/api/v1/jobs/${jobid}?wait=30`, { headers: applianceAuth() })).json()) as typeof job;
      if (job.status === 'Success' || job.status === 'Fail' || Date.now() > until) break;
    }
    expect(job.status, `job ${jobid} after the restart`).to.equal('Success');
    return job.containment.pooled === true;
  };

  /** Each fault: how to inject it, and (optional) what to undo once its jobs have ended. */
  const FAULTS: [string, () => Promise<void>, (() => Promise<void>)?][] = [
    ['docker kill frontend', () => kill('frontend')],
    ['docker kill menage', () => kill('menage')],
    ['docker kill enforcer', () => kill('enforcer')],
    ['docker kill docker-proxy', () => kill('docker-proxy')],
    ['restart of the whole stack', () => must('if [ -x /etc/init.d/menagerie ]; then /etc/init.d/menagerie restart; else ' +
      '/usr/local/sbin/menageriectl stop && /usr/local/sbin/menageriectl start; fi', 600_000).then(() => undefined)],
    ['dockerd restart (kill + start)', async () => {
      await stopDockerd();
      await startDockerd();
    }],
    // Down for 10 s: the runs and pool creates cut by the stop are removed while Docker is
    // still away, so those removals must outlast the outage.
    ['dockerd down 10 s under md5\'s warm pool (kill, wait, start)', async () => {
      enginesBefore = await readFile(ENGINES, 'utf8');
      await setWarm(2);
      await stopDockerd();
      await sleep(10_000);
      await startDockerd();
    }, async () => {
      try {
        // The pool is whole again and serves jobs: its created containers survived the restart, or were replaced.
        await untilPool(2);
        expect(await pooledRun(), 'a job after the restart ran in a pooled container').to.equal(true);
      } finally {
        if (enginesBefore) {
          await writeFile(ENGINES, enginesBefore);
          await must('/usr/local/sbin/menagerie engines reload', 900_000);
          await untilPool(0);
        }
      }
    }],
    ['dockerd stopped for 60 s', async () => {
      await stopDockerd();
      await sleep(60_000);
      await startDockerd();
    }],
    ['MariaDB stopped for 60 s', async () => {
      await must(`${SERVICE} stop mariadb`, 180_000);
      await sleep(60_000);
      await must(`${SERVICE} start mariadb`, 180_000);
    }],
    ['RabbitMQ stopped for 60 s', async () => {
      await must(`${SERVICE} stop rabbitmq-server`, 180_000);
      await sleep(60_000);
      await must(`${SERVICE} start rabbitmq-server`, 240_000);
    }],
  ];

  for (const [name, inject, undo] of FAULTS) {
    it(`${name}: every accepted job ends Success, nothing left behind, healthy again unaided`, async () => {
      const stream = new JobStream();
      stream.start();
      await sleep(4000);
      let injected: unknown;
      await inject().catch((err: unknown) => (injected = err));
      const healthyAfter = await waitHealthy(300_000);
      await sleep(5000); // jobs submitted after the recovery must run too
      await stream.finish(300_000);
      let undone: unknown;
      if (undo) await undo().catch((err: unknown) => (undone = err));
      const left = await leftovers(90_000);
      const jobs = stream.jobs;
      const failed = jobs.filter((j) => j.status && j.status !== 'Success');
      const lost = jobs.filter((j) => !j.status);
      const maxMs = Math.max(0, ...jobs.filter((j) => j.doneAt).map((j) => (j.doneAt ?? 0) - j.acceptedAt));
      console.log(`      appliance-faults[${name}]: jobs=${jobs.length} refused=${stream.refused} lost=${lost.length} failed=${failed.length} ` +
        `max-to-terminal=${(maxMs / 1000).toFixed(1)}s healthy-after=${healthyAfter < 0 ? 'never' : `${(healthyAfter / 1000).toFixed(0)}s`} left=${left.length}`);
      if (healthyAfter < 0 || failed.length || lost.length || left.length) {
        console.log((await status()).out, (await sh('tail -n 40 /var/log/menagerie-watch.log; /usr/local/sbin/menageriectl logs menage 2>&1 | tail -n 60')).out);
      }
      expect(injected, 'the fault could be injected').to.equal(undefined);
      expect(undone, 'after the scenario').to.equal(undefined);
      expect(jobs.length, 'jobs accepted during the scenario').to.be.greaterThan(0);
      expect(healthyAfter, 'the stack became healthy again').to.be.at.least(0);
      expect(failed.map((j) => `${j.id}: ${j.summary ?? ''}`), 'jobs that did not succeed').to.deep.equal([]);
      expect(lost.map((j) => j.id), 'jobs not finished in time').to.deep.equal([]);
      expect(left, 'engine containers or volumes left').to.deep.equal([]);
    });
  }
});

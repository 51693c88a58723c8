import { expect } from 'chai';
import Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { pathOf } from '../../src/contract/internal-api.js';
import { LABELS } from '../../src/contract/labels.js';
import { testEngine } from '../support/services.js';
import { startStack, upload, waitDone, waitNoContainers, type Stack } from '../support/stack.js';

const docker = new Docker();
const MiB = 1024 * 1024;
const hostile = (name: string, cmd: string[], fields: Record<string, unknown> = {}): Record<string, unknown> =>
  testEngine(name, { image: 'menagerie-test/hostile:latest', cmd, ...fields });

const SECCOMP = fileURLToPath(new URL('../../../test/engines/hostile/seccomp/no-mkdir.json', import.meta.url));

const ENGINES = [
  testEngine('normal', { workers: 4 }),
  testEngine('noresult', { cmd: ['/engine/noresult'] }),
  testEngine('neverexits', { cmd: ['/engine/sleep', '3600'], timeout: 2 }),
  hostile('stubborn', ['/engine/stubborn'], { timeout: 2 }),
  hostile('polite', ['/engine/polite'], { timeout: 2 }),
  hostile('probe', ['/engine/probe'], { tmpfs: { '/scratch': '8m' }, pids: 50, cpus: 0.5, memory: '48m' }),
  hostile('seccomp', ['/engine/probe'], { seccomp: SECCOMP }),
  hostile('forkbomb', ['/engine/forkbomb'], { pids: 32, timeout: 12 }),
  hostile('membomb', ['/engine/membomb'], { memory: '32m' }),
  hostile('cpuspin', ['/engine/cpuspin'], { cpus: 0.5, timeout: 8 }),
  hostile('fill-tmpfs', ['/engine/diskfill', '/scratch'], { tmpfs: { '/scratch': '8m' } }),
  hostile('fill-volume', ['/engine/diskfill', '/data', '96'], { memory: '32m' }),
  hostile('fill-capped', ['/engine/diskfill', '/data', '96'], { memory: '32m', volumesize: '16m' }),
  testEngine('capped-copy', { volumesize: '8m' }),
  ...['symlink-passwd', 'symlink-host', 'directory', 'fifo', 'hardlink-passwd', 'hardlink-sample'].map((kind) =>
    hostile(`bad-${kind}`, ['/engine/badresult', kind])),
  hostile('bigresult-refused', ['/engine/bigresult', '50'], { resultlimit: '16m' }),
  hostile('bigresult-ok', ['/engine/bigresult', '100'], { resultlimit: '128m', timeout: 60 }),
  hostile('bigstdout', ['/engine/bigstdout', '100'], { loglimit: '64k', timeout: 60 }),
];

/** Jobs started together up front (independent, each on its own engine queue). */
const BATCH = ['seccomp', 'noresult', 'neverexits', 'stubborn', 'polite', 'probe', 'membomb', 'fill-tmpfs', 'fill-volume', 'fill-capped', 'capped-copy',
  'bad-symlink-passwd', 'bad-symlink-host', 'bad-directory', 'bad-fifo', 'bad-hardlink-passwd', 'bad-hardlink-sample', 'bigresult-refused'];

interface Done { id: string; status: string; summary: string; reason: string; log: string; job: Record<string, any> }

/** The engines with a warm pool of `warm` each (but those with a capped volume, made per job). */
const withWarm = (warm: number): Record<string, unknown>[] =>
  (ENGINES as Record<string, unknown>[]).map((e) => (warm && e.volumesize === undefined ? { ...e, warm } : e));

// Twice: each job in a container created for it, then in one created ahead by the warm pool
// (engines.json `warm`): the same containment and the same outcomes either way.
for (const warm of [0, 1]) describe(`e2e: hostile engines are contained${warm ? ', warm pool (containers created ahead)' : ''}`, function () {
  this.timeout(240_000);
  let stack: Stack;
  const batch = new Map<string, Promise<Done>>();

  async function run(engine: string, body: string | Buffer = 'sample'): Promise<Done> {
    const { status, json } = await upload(stack.url, engine, body);
    expect(status, JSON.stringify(json)).to.equal(200);
    return finish(json.jobid as string);
  }

  async function finish(id: string, timeoutMs = 120_000): Promise<Done> {
    const done = await waitDone(stack.url, id, timeoutMs);
    const job = (await (await fetch(`${stack.url}/jobs/${id}`)).json()) as Record<string, any>;
    const logRes = await fetch(`${stack.url}/jobs/${id}/log`);
    const log = logRes.ok ? await logRes.text() : '';
    return { id, ...done, reason: job.reason as string, log, job };
  }

  before(async () => {
    // The batch is uploaded at once: more uploads at a time than the default bound (16) allows.
    stack = await startStack(withWarm(warm), { overrides: { uploads: { maxConcurrent: BATCH.length + 4 } } });
    // Every engine's pool is ready before the batch, so each of its jobs takes a pooled container.
    const pools = withWarm(warm).filter((e) => e.warm).length;
    for (const until = Date.now() + 60_000; Date.now() < until; await sleep(200)) {
      const idle = await docker.listContainers({ all: true, filters: { label: [`${LABELS.node}=${stack.node}`, `${LABELS.role}=pool`], status: ['created'] } });
      if (idle.length >= pools) break;
    }
    for (const name of BATCH) batch.set(name, run(name));
    // Keep a failed job in the batch from being an unhandled rejection before its test awaits it.
    for (const p of batch.values()) p.catch(() => undefined);
  });
  after(async () => {
    await stack?.close();
  });
  afterEach(async () => {
    expect(await waitNoContainers(docker, stack.node, 15_000, { idlePool: 'ignore' })).to.deep.equal([]);
  });

  it('from inside: no capabilities, NoNewPrivs, seccomp filter, only lo, no egress, read-only rootfs, no /dev/shm', async () => {
    const done = await batch.get('probe')!;
    expect(done.status, done.summary).to.equal('Success');
    const text = await (await fetch(`${stack.url}/link/${done.id}`)).text();
    const found = Object.fromEntries(text.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(found[cap], cap).to.equal('0000000000000000');
    expect(found).to.include({ NoNewPrivs: '1', Seccomp: '2', uid: '65534', interfaces: 'lo,', egress: 'blocked', bridge: 'blocked' });
    for (const p of ['/', '/etc', '/engine', '/tmp', '/var']) expect(found[`write:${p}`], p).to.equal('refused');
    expect(found).to.include({ shm: 'absent', data: 'mounted', mknod: 'refused', mkdir: 'ok', pidsmax: '50' });
    expect(found.scratch).to.match(/\bnoexec\b/).and.match(/\bnosuid\b/).and.match(/\bnodev\b/).and.match(/size=8192k/);
  });

  it('records the containment in force, from docker inspect: every default, userns, seccomp, AppArmor, runtime, image', async () => {
    const c = (await batch.get('probe')!).job.containment as Record<string, any>;
    expect(c).to.include({
      network: 'none', readonlyRootfs: true, privileged: false, noNewPrivileges: true, userns: 'remapped',
      pidMode: 'private', ipcMode: 'none', utsMode: 'private', pidsLimit: 50, memoryBytes: 48 * MiB, memorySwapBytes: 48 * MiB,
      nanoCpus: 5e8, seccomp: 'docker default', runtime: 'runc', image: 'menagerie-test/hostile:latest', user: '65534:65534',
    });
    expect(c.capDrop).to.deep.equal(['ALL']);
    expect(c.capAdd).to.deep.equal([]);
    expect(c.binds).to.deep.equal([]);
    expect(c.devices).to.deep.equal([]);
    expect(c.tmpfs).to.deep.equal({ '/scratch': `rw,noexec,nosuid,nodev,size=${8 * MiB}` });
    expect(c.mounts).to.deep.equal([{ type: 'volume', destination: '/data', rw: true }]);
    expect(c.imageId).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(c.pooled, 'created ahead by the warm pool').to.equal(warm > 0);
    expect(c.repoDigests).to.be.an('array');
    if (existsSync('/sys/kernel/security/apparmor')) expect(c.apparmorProfile).to.be.a('string').and.not.match(/^none/);
    else expect(c.apparmorProfile).to.equal('none: host has no AppArmor');
  });

  it('a seccomp profile given by file is in force (its JSON sent to Docker) and reported by hash', async () => {
    const done = await batch.get('seccomp')!;
    expect(done.status, done.summary).to.equal('Success');
    const text = await (await fetch(`${stack.url}/link/${done.id}`)).text();
    expect(text).to.contain('mkdir=refused').and.contain('Seccomp=2').and.contain('write:/=refused');
    const json = JSON.stringify(JSON.parse(readFileSync(SECCOMP, 'utf8')));
    expect(done.job.containment.seccomp).to.equal(`custom profile sha256:${createHash('sha256').update(json).digest('hex')}`);
  });

  it('exits 0 without a result: Fail "no result file"', async () => {
    const done = await batch.get('noresult')!;
    expect(done.status).to.equal('Fail');
    expect(done.reason).to.equal('no result file');
    expect(done.summary).to.match(/^no result file/);
  });

  it('never exits: Fail "timeout", killed', async () => {
    const done = await batch.get('neverexits')!;
    expect(done.status).to.equal('Fail');
    expect(done.reason).to.match(/^timeout: stopped after 2 s/);
  });

  it('ignores SIGTERM: killed after the stop grace, reason says so', async () => {
    const done = await batch.get('stubborn')!;
    expect(done.reason).to.match(/^timeout: stopped after 2 s; it ignored SIGTERM for \d+ s and was killed$/);
    expect(done.log).to.contain('SIGTERM ignored');
  });

  it('stops on SIGTERM: plain timeout, its last words kept', async () => {
    const done = await batch.get('polite')!;
    expect(done.reason).to.equal('timeout: stopped after 2 s');
    expect(done.log).to.contain('stopping on SIGTERM');
  });

  it('memory bomb: Fail "out of memory"', async () => {
    const done = await batch.get('membomb')!;
    expect(done.status).to.equal('Fail');
    expect(done.reason).to.match(/^out of memory/);
  });

  it('fills its tmpfs: bounded by the tmpfs size, clear failure', async () => {
    const done = await batch.get('fill-tmpfs')!;
    expect(done.reason).to.equal('exit code 1');
    expect(done.log).to.contain('No space left on device').and.contain(`wrote ${8 * MiB} bytes`);
  });

  it('fills the input volume: not size-capped (documented), bounded by the timeout, removed with the container', async () => {
    const done = await batch.get('fill-volume')!;
    // 96 MiB went into the volume although memory is 32m: the volume is disk, not tmpfs.
    expect(done.log).to.contain(`wrote ${96 * MiB} bytes`);
    expect(done.reason).to.equal('no result file');
  });

  it('fills a size-capped input volume (volumesize): bounded, clear failure', async () => {
    const done = await batch.get('fill-capped')!;
    expect(done.reason).to.equal('exit code 1');
    expect(done.log).to.contain('No space left on device');
    const wrote = Number(/wrote (\d+) bytes/.exec(done.log)?.[1]);
    expect(wrote).to.be.at.most(16 * MiB).and.above(15 * MiB);
  });

  it('a size-capped input volume carries the input in and the result out', async () => {
    const done = await batch.get('capped-copy')!;
    expect(done.status, done.summary).to.equal('Success');
    expect(await (await fetch(`${stack.url}/link/${done.id}`)).text()).to.equal('sample');
    expect(done.job.containment.mounts).to.deep.equal([{ type: 'volume', destination: '/data', rw: true }]);
  });

  const refusals: Array<[string, RegExp]> = [
    ['symlink-passwd', /^output not a regular file: result is a symbolic link to "\/etc\/passwd"$/],
    ['symlink-host', /^output not a regular file: result is a symbolic link to "(\.\.\/)*\/?var\/lib\/docker\/volumes"$/],
    ['directory', /^output not a regular file: result is a directory$/],
    ['fifo', /^output not a regular file: result is a FIFO$/],
  ];
  for (const [kind, reason] of refusals) {
    it(`result as ${kind}: refused, nothing of the target delivered`, async () => {
      const done = await batch.get(`bad-${kind}`)!;
      expect(done.status).to.equal('Fail');
      expect(done.reason).to.match(reason);
      const text = await (await fetch(`${stack.url}/link/${done.id}`)).text();
      expect(text).to.match(/^output not a regular file/).and.not.contain('root:x:0:0');
    });
  }

  it('result as a hard link to /etc/passwd: the kernel refuses it (other filesystem), no result', async () => {
    const done = await batch.get('bad-hardlink-passwd')!;
    expect(done.reason).to.equal('no result file');
    expect(done.log).to.contain('hard link refused');
  });

  it('result as a hard link inside the volume: Docker archives it as a regular file with the content the engine could copy anyway', async () => {
    const done = await batch.get('bad-hardlink-sample')!;
    expect(done.status).to.equal('Success');
    expect(await (await fetch(`${stack.url}/link/${done.id}`)).text()).to.equal('sample');
  });

  it('huge result over the cap: Fail "result too large", refused before reading it', async () => {
    const done = await batch.get('bigresult-refused')!;
    expect(done.reason).to.equal(`result too large: ${50 * MiB} bytes, the limit is ${16 * MiB}`);
  });

  it('fork bomb: the pids limit holds and a normal job next to it succeeds', async () => {
    const { json } = await upload(stack.url, 'forkbomb', 'x');
    const container = await runningContainer(json.jobid);
    // Docker's one-shot stats take a second or two each; sample until the bomb hits the wall.
    let maxPids = 0;
    let limit: number | undefined;
    const until = Date.now() + 6_000;
    while (maxPids < 32 && Date.now() < until) {
      const stats = (await container.stats({ stream: false })) as { pids_stats?: { current?: number; limit?: number } };
      maxPids = Math.max(maxPids, stats.pids_stats?.current ?? 0);
      limit = stats.pids_stats?.limit ?? limit;
    }
    const started = Date.now();
    const normal = await run('normal', 'next to a fork bomb');
    expect(normal.status).to.equal('Success');
    expect(Date.now() - started).to.be.below(15_000);
    await docker.ping();
    console.log(`      fork bomb: at most ${maxPids} pids seen (limit 32)`);
    const bomb = await finish(json.jobid);
    expect(bomb.status).to.equal('Fail');
    expect(bomb.reason, bomb.log.slice(-500)).to.match(/^timeout/);
    expect(maxPids, 'the bomb reached the limit').to.be.within(24, 32);
    if (limit !== undefined) expect(limit).to.equal(32);
  });

  it('CPU spin is held at 0.5 CPU and a normal job next to it finishes in time', async () => {
    const { json } = await upload(stack.url, 'cpuspin', 'x');
    const container = await runningContainer(json.jobid);
    const usage = async (): Promise<number> =>
      ((await container.stats({ stream: false })) as { cpu_stats: { cpu_usage: { total_usage: number } } }).cpu_stats.cpu_usage.total_usage;
    await sleep(500);
    const [u0, t0] = [await usage(), process.hrtime.bigint()];
    const started = Date.now();
    const normal = await run('normal', 'next to a spinner');
    expect(normal.status).to.equal('Success');
    const took = Date.now() - started;
    expect(took).to.be.below(6_000);
    await sleep(Math.max(0, 2000 - (Date.now() - started)));
    const [u1, t1] = [await usage(), process.hrtime.bigint()];
    const cpus = (u1 - u0) / Number(t1 - t0);
    console.log(`      spinner used ${cpus.toFixed(2)} CPUs (limit 0.5); the job next to it took ${took} ms`);
    expect(cpus, `spinner used ${cpus.toFixed(2)} CPUs`).to.be.below(0.65);
    expect((await finish(json.jobid)).reason).to.match(/^timeout/);
  });

  it('huge allowed result (100 MiB): delivered intact, memory flat', async () => {
    // Collect garbage while sampling, so that what is measured is what is held, not GC lag.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const rss = { before: process.memoryUsage().rss, peak: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        gc();
        rss.peak = Math.max(rss.peak, process.memoryUsage().rss);
        await sleep(50);
      }
    })();
    const done = await run('bigresult-ok');
    sampling = false;
    await sampler;
    expect(done.status, done.summary).to.equal('Success');
    const growth = (rss.peak - rss.before) / MiB;
    console.log(`      RSS growth while a 100 MiB result went through: ${growth.toFixed(1)} MiB`);
    expect(growth).to.be.below(40);
    const res = await fetch(`${stack.url}/link/${done.id}`);
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      hash.update(chunk);
    }
    expect(n).to.equal(100 * MiB);
    expect(hash.digest('hex')).to.equal(createHash('sha256').update(Buffer.alloc(100 * MiB, 'x')).digest('hex'));
  });

  it('huge stdout (100 MiB): the kept log is capped at loglimit and ends with the last line', async () => {
    const done = await run('bigstdout');
    expect(done.status).to.equal('Success');
    expect(Buffer.byteLength(done.log)).to.be.at.most(64 * 1024 + 100);
    expect(done.log).to.match(/^\[\d+ earlier bytes of output dropped\]\n/);
    expect(done.log).to.contain('the very last line');
  });

  it('leaves no container and no volume behind (volumes carry the deployment label)', async () => {
    // The warm pool's waiting containers go when menage stops.
    if (warm) await stack.menage!.close();
    expect(await waitNoContainers(docker, stack.node)).to.deep.equal([]);
    const { Volumes } = await docker.listVolumes({ filters: { label: [`${LABELS.deployment}=${stack.env.config.rabbitmq.prefix}`] } });
    expect((Volumes ?? []).map((v) => v.Name)).to.deep.equal([]);
  });

  /** A running warm-pool container the frontend has on record for the job (it has no job label). */
  async function pooledContainerOf(jobId: string): Promise<Docker.Container | undefined> {
    const running = await docker.listContainers({ filters: { label: [`${LABELS.node}=${stack.node}`, `${LABELS.role}=pool`], status: ['running'] } });
    for (const c of running) {
      const res = await fetch(`${stack.internalUrl}${pathOf('containerJob', c.Id)}`, { headers: { authorization: `Bearer ${stack.env.config.internalToken}` } });
      if (res.ok && ((await res.json()) as { jobid: string }).jobid === jobId) return docker.getContainer(c.Id);
    }
    return undefined;
  }

  /** Waits until the job's container runs; returns it (or says where the job is). */
  async function runningContainer(jobId: string): Promise<Docker.Container> {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const [c] = await docker.listContainers({ filters: { label: [`${LABELS.node}=${stack.node}`, `${LABELS.job}=${jobId}`], status: ['running'] } });
      if (c) return docker.getContainer(c.Id);
      const pooled = warm ? await pooledContainerOf(jobId) : undefined;
      if (pooled) return pooled;
      await sleep(100);
    }
    // Say where the job is, so a failure here can be told apart (queued, failed, ran unseen).
    const job = await (await fetch(`${stack.url}/jobs/${jobId}`)).json();
    const lines = stack.logs.filter((l) => l.includes(`"jobid":"${jobId}"`) || /circuit|consumer|channel/.test(l)).slice(-20);
    throw new Error(`no running container for job ${jobId} within 30 s; the job: ${JSON.stringify(job)}; its log:\n${lines.join('\n')}`);
  }
});

describe('e2e: menage checks the Docker engine at start-up', function () {
  this.timeout(60_000);

  it('refuses to start when an engine wants a runtime the daemon does not have, naming engine and runtime', async () => {
    const stack = await startStack([testEngine('ok'), testEngine('gvisor', { runtime: 'runsc-not-installed' })], { menage: false });
    try {
      let error: Error | undefined;
      await stack.startMenage().catch((err: Error) => (error = err));
      expect(error?.message).to.match(/\/engines\/1\/runtime: engine "gvisor": runtime "runsc-not-installed" is not installed in the Docker engine \(it has .*runc/);
    } finally {
      await stack.close();
    }
  });
});

import { expect } from 'chai';
import { connect } from 'amqplib';
import { request } from 'node:http';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { names } from '../../src/queue/topology.js';
import { FAULT_ENGINES, FaultStack } from '../support/fault-stack.js';
import { PrivateDockerd, PrivateMariaDB, PrivateRabbit } from '../support/private-services.js';
import { unique } from '../support/services.js';

/** Submits `n` jobs, `gapMs` apart, without waiting for them to finish. */
async function stream(stack: FaultStack, engine: string, n: number, gapMs: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await stack.submit(engine, `job ${i} ${unique()}`);
    await sleep(gapMs);
  }
}

async function waitRunning(stack: FaultStack, atLeast = 1): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const rows = await stack.query<{ n: number }>(`SELECT COUNT(*) AS n FROM jobs WHERE status = 'Running'`);
    if (Number(rows[0]?.n) >= atLeast) return;
    await sleep(100);
  }
  throw new Error('no job started running');
}

describe('faults: no job lost, none completed twice', function () {
  this.timeout(240_000);
  let db: PrivateMariaDB;
  let rabbit: PrivateRabbit;
  let stack: FaultStack | undefined;

  before(async () => {
    db = new PrivateMariaDB(join(tmpdir(), unique('faults-db-')));
    rabbit = new PrivateRabbit(join(tmpdir(), unique('faults-mq-')));
    await Promise.all([db.start(), rabbit.start()]);
  });
  after(async () => {
    await rabbit?.destroy();
    await db?.destroy();
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('kill -9 menage repeatedly during a stream of jobs, restarting it each time', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    const submitting = stream(stack, 'slow', 12, 150);
    for (let k = 0; k < 3; k++) {
      await waitRunning(stack);
      await sleep(300 + 500 * k);
      await stack.menage.stop('SIGKILL');
      await stack.menage.start(/menage running/);
    }
    await submitting;
    await stack.check('kill -9 menage');
  });

  it('SIGTERM menage hands running jobs back within its grace and leaves no container', async () => {
    stack = await FaultStack.start(db, rabbit, [...FAULT_ENGINES]);
    await stream(stack, 'slow', 4, 0);
    await waitRunning(stack, 2);
    const started = Date.now();
    expect(await stack.menage.stop('SIGTERM')).to.equal(0);
    expect(Date.now() - started).to.be.below(15_000);
    await stack.menage.start(/menage running/);
    await stack.check('SIGTERM menage');
  });

  it('restart RabbitMQ during an upload burst: every 200 ends terminal, every refusal keeps nothing', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    const burst = Promise.all([0, 1, 2].map(() => stream(stack as FaultStack, 'quick', 12, 100)));
    await sleep(600);
    await rabbit.restart('SIGKILL');
    await burst;
    await stream(stack, 'quick', 3, 0);
    await stack.check('restart RabbitMQ during uploads');
  });

  it('restart RabbitMQ with jobs queued: they survive and run', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES, { menage: false });
    await stream(stack, 'quick', 10, 0);
    expect(stack.refused).to.equal(0);
    await rabbit.restart('SIGTERM');
    await stack.menage.start(/menage running/);
    await stack.check('restart RabbitMQ with jobs queued');
  });

  it('restart MariaDB during completions; meanwhile the API answers 503 fast', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    await stream(stack, 'slow', 8, 100);
    await waitRunning(stack);
    await db.stop('SIGKILL');
    const t0 = Date.now();
    const res = await fetch(`${stack.url}/result/${stack.ids[0]}`);
    expect(res.status).to.equal(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('DATABASE_UNAVAILABLE');
    expect(Date.now() - t0).to.be.below(10_000);
    const up = await fetch(`${stack.url}/quick/upload`, { method: 'POST', body: form('x') });
    expect(up.status).to.equal(503);
    await sleep(3000);
    await db.start();
    await stack.check('restart MariaDB during completions');
  });

  it('a hung MariaDB (frozen, connections open) gives 503 within the statement timeout, then recovers', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    await stream(stack, 'quick', 2, 0);
    await stack.check('before freezing MariaDB');
    db.freeze(true);
    try {
      const t0 = Date.now();
      const res = await fetch(`${stack.url}/result/${stack.ids[0]}`, { signal: AbortSignal.timeout(30_000) });
      expect(res.status).to.equal(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('DATABASE_UNAVAILABLE');
      expect(Date.now() - t0).to.be.below(15_000);
    } finally {
      db.freeze(false);
    }
    await stream(stack, 'quick', 2, 0);
    await stack.check('frozen MariaDB');
  });

  it('kill -9 the frontend mid-upload: no row, and the partial file is removed at restart', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    const s = stack;
    const req = request(`${s.url}/quick/upload`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XX' } });
    req.on('error', () => undefined);
    req.write('--XX\r\nContent-Disposition: form-data; name="upload"; filename="f"\r\n\r\n');
    req.write(Buffer.alloc(300_000, 1));
    await sleep(500);
    const tmp = join(s.dir, 'store', '.tmp');
    expect(await readdir(tmp)).to.have.length(1);
    await s.frontend.stop('SIGKILL');
    req.destroy();
    await s.frontend.start(/frontend listening/);
    expect(await readdir(tmp)).to.deep.equal([]);
    expect(await s.query('SELECT id FROM jobs')).to.deep.equal([]);
    await stream(s, 'quick', 2, 0);
    await s.check('kill -9 frontend mid-upload');
  });

  it('SIGTERM the frontend: it closes cleanly and a restart carries on', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    await stream(stack, 'quick', 2, 0);
    const t0 = Date.now();
    expect(await stack.frontend.stop('SIGTERM')).to.equal(0);
    expect(Date.now() - t0).to.be.below(10_000);
    await stack.frontend.start(/frontend listening/);
    await stream(stack, 'quick', 2, 0);
    await stack.check('SIGTERM frontend');
  });

  it('kill -9 the frontend during completions, then restart it', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    await stream(stack, 'slow', 8, 100);
    await waitRunning(stack);
    await sleep(1500);
    await stack.frontend.stop('SIGKILL');
    await sleep(1500);
    await stack.frontend.start(/frontend listening/);
    await stack.check('kill -9 frontend mid-completion');
  });

  it('restart the Docker daemon mid-job (live-restore on)', async () => {
    const dockerd = new PrivateDockerd(unique(''));
    try {
      await dockerd.start();
      dockerd.loadImages(['menagerie-test/behave:latest']);
      stack = await FaultStack.start(db, rabbit, FAULT_ENGINES, { dockerSocket: dockerd.socket });
      await stream(stack, 'slow', 6, 100);
      await waitRunning(stack, 2);
      await sleep(500);
      await dockerd.stop('SIGTERM');
      await sleep(1000);
      await dockerd.start();
      await stack.check('restart dockerd mid-job');
    } finally {
      await stack?.close();
      stack = undefined;
      await dockerd.destroy();
    }
  });

  it('a poison message is parked on the poison queue and the worker keeps going', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES);
    const conn = await connect(rabbit.url);
    const ch = await conn.createConfirmChannel();
    ch.sendToQueue(names(stack.prefix).queue('quick'), Buffer.from('{"jobId":"not a number"'), { persistent: true });
    await ch.waitForConfirms();
    await stream(stack, 'quick', 3, 0);
    await stack.check('poison message');
    let parked: false | { content: Buffer } = false;
    for (let i = 0; i < 50 && !parked; i++) {
      parked = await ch.get(names(stack.prefix).poison, { noAck: true });
      if (!parked) await sleep(200);
    }
    expect(parked && parked.content.toString()).to.equal('{"jobId":"not a number"');
    await conn.close();
  });

  it('a job whose message is dead-lettered fails instead of waiting forever', async () => {
    stack = await FaultStack.start(db, rabbit, FAULT_ENGINES, { menage: false });
    const id = await stack.submit('quick', 'x');
    const conn = await connect(rabbit.url);
    const ch = await conn.createChannel();
    const msg = await ch.get(names(stack.prefix).queue('quick'), { noAck: false });
    expect(msg && JSON.parse(msg.content.toString())).to.deep.equal({ jobId: id, engine: 'quick' });
    if (msg) ch.nack(msg, false, false);
    await stack.check('dead-lettered job');
    const [job] = await stack.query<{ status: string; reason: string }>('SELECT status, reason FROM jobs WHERE id = ?', [id]);
    expect(job).to.deep.equal({ status: 'Fail', reason: 'dead-lettered' });
    await conn.close();
  });
});

describe('faults: broker consumer timeout shorter than a job', function () {
  this.timeout(120_000);
  let db: PrivateMariaDB;
  let rabbit: PrivateRabbit;
  let stack: FaultStack | undefined;

  before(async () => {
    db = new PrivateMariaDB(join(tmpdir(), unique('faults-db-')));
    rabbit = new PrivateRabbit(join(tmpdir(), unique('faults-mq-')), { consumerTimeoutMs: 2000 });
    await Promise.all([db.start(), rabbit.start()]);
  });
  after(async () => {
    await stack?.close();
    await rabbit?.destroy();
    await db?.destroy();
  });

  it('a job running past the broker ack timeout completes exactly once, and later jobs still run', async () => {
    stack = await FaultStack.start(db, rabbit, [...FAULT_ENGINES,
      { ...FAULT_ENGINES[1], name: 'long', cmd: ['/engine/slowcopy', '7'] }]);
    await stack.submit('long', 'long job');
    await sleep(4000);
    await stream(stack, 'quick', 3, 0);
    await stack.check('consumer timeout');
    const rows = await stack.query<{ status: string }>('SELECT status FROM jobs');
    expect(rows.map((r) => r.status)).to.deep.equal(['Success', 'Success', 'Success', 'Success']);
  });
});

function form(text: string): FormData {
  const f = new FormData();
  f.append('upload', new Blob([text]), 'f');
  return f;
}

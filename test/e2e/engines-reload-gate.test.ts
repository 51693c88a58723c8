import { expect } from 'chai';
import { connect } from 'amqplib';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { startFrontend } from '../../src/frontend.js';
import { names } from '../../src/queue/topology.js';
import { startStack, upload, waitDone, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';
import { memoryLog } from '../support/log.js';

const MiB = 1024 * 1024;
const md5 = (name = 'md5'): Record<string, unknown> =>
  testEngine(name, { image: 'menagerie/md5:1.0.0', cmd: '/engine/run', workers: 1, sizelimit: MiB });
const idle = (name: string): Record<string, unknown> => testEngine(name, { workers: 1 });

/** Queues of engines a reload added are not in the test env's topology list: delete them here. */
async function deleteQueues(stack: Stack, engines: string[]): Promise<void> {
  const conn = await connect(stack.env.config.rabbitmq.url);
  const ch = await conn.createChannel();
  for (const e of engines) await ch.deleteQueue(names(stack.env.config.rabbitmq.prefix).queue(e)).catch(() => undefined);
  await conn.close().catch(() => undefined);
}

describe('e2e: the frontend takes uploads for a new engine only once a menage serves it', function () {
  this.timeout(5 * 60_000);
  let stack: Stack;
  const write = (engines: unknown[]): Promise<void> => writeFile(stack.env.config.enginesFile, JSON.stringify({ engines }));

  before(async () => {
    stack = await startStack([md5()], { overrides: { jobs: { reloadWaitSeconds: 20 } } });
  });
  after(async () => {
    if (!stack) return;
    await deleteQueues(stack, ['fresh', 'later']);
    await stack.close();
  });

  it('a frontend-only reload (SIGHUP to the frontend alone) waits for menage, then refuses and changes nothing', async () => {
    await write([md5(), md5('fresh')]);
    const started = Date.now();
    const err = await stack.frontend.reload().then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/engine "fresh" is not served by any menage after 20 s: reload menage first/);
    expect(Date.now() - started).to.be.at.least(19_000);
    const refused = await upload(stack.url, 'fresh', 'hello\n');
    expect(refused.status).to.equal(404);
    expect(refused.json.error.code).to.equal('UNKNOWN_ENGINE');
    expect(stack.logs.join('\n')).to.match(/waiting for a menage to serve fresh/);
  });

  it('once menage has run the kit and serves the engine, the same reload opens uploads', async () => {
    await stack.menage?.reload();
    await stack.frontend.reload();
    const { status, json } = await upload(stack.url, 'fresh', 'hello\n');
    expect(status).to.equal(200);
    expect(await waitDone(stack.url, json.jobid)).to.include({ status: 'Success', summary: 'b1946ac92492d2347c6235b4d2611184\n' });
  });

  it('signalled in either order, the frontend waits for menage (both SIGHUPs at once, as `menagerie engines reload` sends them)', async () => {
    await write([md5(), md5('fresh'), md5('later')]);
    const [front, back] = await Promise.allSettled([stack.frontend.reload(), stack.menage!.reload()]);
    expect(back.status).to.equal('fulfilled');
    expect(front.status, String((front as PromiseRejectedResult).reason)).to.equal('fulfilled');
    const { status, json } = await upload(stack.url, 'later', 'hello\n');
    expect(status).to.equal(200);
    expect((await waitDone(stack.url, json.jobid)).status).to.equal('Success');
  });
});

describe('e2e: jobs still waiting for an engine a reload removes fail with "engine removed"', function () {
  this.timeout(2 * 60_000);
  let stack: Stack;
  const write = (engines: unknown[]): Promise<void> => writeFile(stack.env.config.enginesFile, JSON.stringify({ engines }));
  const job = async (id: string): Promise<any> => (await fetch(`${stack.url}/api/v1/jobs/${id}`)).json();

  before(async () => {
    // No menage: jobs of every engine stay waiting (Received) in their queues.
    stack = await startStack([md5(), idle('gone'), idle('kept')], { menage: false });
  });
  after(async () => {
    await stack?.close();
  });

  it('a reload fails the removed engine\'s waiting jobs at once and keeps them readable; other engines\' jobs keep waiting', async () => {
    const a = (await upload(stack.url, 'gone', 'one')).json.jobid as string;
    const b = (await upload(stack.url, 'gone', 'two')).json.jobid as string;
    const c = (await upload(stack.url, 'kept', 'three')).json.jobid as string;
    expect((await job(a)).status).to.equal('Received');
    await write([md5(), idle('kept')]);
    const changes = await stack.frontend.reload();
    expect(changes.removed.map((e) => e.name)).to.deep.equal(['gone']);
    for (const id of [a, b]) expect(await job(id)).to.include({ status: 'Fail', reason: 'engine removed', engine: 'gone' });
    expect((await job(c)).status).to.equal('Received');
    expect(stack.logs.join('\n')).to.match(/2 waiting jobs of gone failed: engine removed/);
  });

  it('a frontend started on an engines.json without an engine fails that engine\'s waiting jobs', async () => {
    const c = (await upload(stack.url, 'kept', 'four')).json.jobid as string;
    await write([md5()]);
    const logs: string[] = [];
    const second = await startFrontend(loadConfig(join(stack.env.dir, 'config.json'), {}), memoryLog(logs));
    try {
      const until = Date.now() + 20_000;
      while ((await job(c)).status === 'Received' && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      expect(await job(c)).to.include({ status: 'Fail', reason: 'engine removed' });
      expect(logs.join('\n')).to.match(/waiting jobs? of engines no longer configured failed: engine removed/);
    } finally {
      await second.close();
    }
  });
});

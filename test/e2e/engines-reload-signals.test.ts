import { expect } from 'chai';
import { connect } from 'amqplib';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { names } from '../../src/queue/topology.js';
import { startFrontendProcess, type FrontendProcess } from '../support/frontend-process.js';
import { testEngine } from '../support/services.js';
import { startStack, upload, waitDone, type Stack } from '../support/stack.js';

const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const md5 = testEngine('md5', { image: 'menagerie/md5:1.0.0', cmd: '/engine/run', workers: 1 });

async function waitFor(what: () => boolean, timeoutMs: number, label: string): Promise<void> {
  for (const until = Date.now() + timeoutMs; !what(); await sleep(100)) {
    if (Date.now() > until) throw new Error(`${label}: not seen in ${timeoutMs} ms`);
  }
}

describe('e2e: engines reload by signal, on a running frontend process', function () {
  this.timeout(120_000);
  let fp: FrontendProcess;
  let standIn: Awaited<ReturnType<typeof connect>> | undefined;
  after(async () => {
    await standIn?.close().catch(() => undefined);
    const conn = await connect(fp.env.config.rabbitmq.url);
    await conn.createChannel().then((ch) => ch.deleteQueue(names(fp.env.config.rabbitmq.prefix).queue('md5b'))).catch(() => undefined);
    await conn.close();
    await fp?.close();
  });

  it('`menagerie engines reload --pid` makes the same process take uploads for a new engine, once something serves its queue', async () => {
    fp = await startFrontendProcess([md5]);
    expect((await upload(fp.url, 'md5b', 'x')).status).to.equal(404);
    await writeFile(fp.env.config.enginesFile, JSON.stringify({ engines: [md5, { ...md5, name: 'md5b' }] }));
    const { stdout } = await promisify(execFile)('node', [cli, 'engines', 'reload', '--engines', fp.env.config.enginesFile, '--pid', String(fp.pid)]);
    expect(stdout).to.match(/sent SIGHUP to/);
    // No menage runs here: the frontend waits for one to serve md5b (and would refuse after
    // jobs.reloadWaitSeconds); a consumer on the queue stands in for the menage that accepted it.
    await waitFor(() => /waiting for a menage to serve md5b/.test(fp.proc.output), 10_000, 'the wait for menage');
    expect((await upload(fp.url, 'md5b', 'x')).status).to.equal(404);
    standIn = await connect(fp.env.config.rabbitmq.url);
    await (await standIn.createChannel()).consume(names(fp.env.config.rabbitmq.prefix).queue('md5b'), () => undefined);
    await waitFor(() => /engines reloaded: \+md5b/.test(fp.proc.output), 10_000, 'the reload log line');
    const { status, json } = await upload(fp.url, 'md5b', 'x');
    expect(status).to.equal(200);
    expect(json.jobid).to.match(/^[1-9][0-9]*$/);
    expect(fp.proc.pid).to.equal(fp.pid);
  });

  it('a broken engines.json is refused by the process and changes nothing', async () => {
    await writeFile(fp.env.config.enginesFile, '{"engines": [{"name": "md5"}]}');
    process.kill(fp.pid, 'SIGHUP');
    await waitFor(() => /engines reload refused, nothing changed/.test(fp.proc.output), 10_000, 'the refusal');
    expect((await upload(fp.url, 'md5b', 'x')).status).to.equal(200);
  });
});

describe('e2e: a version change drains the old version\'s jobs in flight', function () {
  this.timeout(180_000);
  let stack: Stack;
  const slow = (cmd: string[]): Record<string, unknown> => testEngine('slow', { cmd, workers: 1, timeout: 60, sizelimit: 1024 * 1024 });
  after(async () => {
    await stack?.close();
  });

  it('the job the old version runs finishes while the new version takes new jobs', async () => {
    stack = await startStack([slow(['/engine/slowcopy', '25'])]);
    // Golden samples next to engines.json, so the new version passes its kit.
    const golden = join(stack.env.dir, 'slow', 'golden', 'one');
    await mkdir(golden, { recursive: true });
    await writeFile(join(golden, 'input'), 'abc');
    await writeFile(join(golden, 'expect.json'), JSON.stringify({ result: 'text', text: 'abc' }));
    const old = (await upload(stack.url, 'slow', 'old version')).json.jobid as string;
    await sleep(1500);
    await writeFile(stack.env.config.enginesFile, JSON.stringify({ engines: [slow(['/engine/copy'])] }));
    await stack.menage?.reload();
    await stack.frontend.reload();
    expect(stack.logs.join('\n')).to.match(/slow: draining the old slots \(replaced by a new version\)/);
    const fresh = (await upload(stack.url, 'slow', 'new version')).json.jobid as string;
    expect(await waitDone(stack.url, fresh)).to.include({ status: 'Success', summary: 'new version' });
    expect((await (await fetch(`${stack.url}/result/${old}`)).json()).status).to.equal('Running');
    expect(await waitDone(stack.url, old, 90_000)).to.include({ status: 'Success', summary: 'old version' });
    await waitFor(() => stack.logs.some((l) => l.includes('slow: old slots drained')), 10_000, 'the drain');
  });
});

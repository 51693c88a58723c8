import { expect } from 'chai';
import Docker from 'dockerode';
import { connect } from 'amqplib';
import { writeFile } from 'node:fs/promises';
import { names } from '../../src/queue/topology.js';
import { startStack, upload, waitDone, waitNoContainers, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

const docker = new Docker();
const MiB = 1024 * 1024;
const md5 = (fields: Record<string, unknown> = {}): Record<string, unknown> =>
  testEngine('md5', { image: 'menagerie/md5:1.0.0', cmd: '/engine/run', workers: 1, sizelimit: MiB, ...fields });
const yara = testEngine('yara', {
  image: 'menagerie/yara:1.0.0', cmd: ['/engine/run', '50'], workers: 1, sizelimit: MiB, timeout: 60, memory: '256m', apparmor: 'menagerie-engine-yara',
});
/** A second tag of the md5 image, this suite's own (other runs may retag menagerie/md5:latest). */
const NEXT = { repo: 'menagerie-test/md5', tag: `reload-${process.pid}` };
const next = `${NEXT.repo}:${NEXT.tag}`;
const echo = testEngine('echo', { image: 'menagerie-test/behave:latest', cmd: ['/engine/copy'] });

/** Engine version management while the services run: the real frontend, menage, Docker and broker. */
describe('e2e: engines reload while running', function () {
  this.timeout(5 * 60_000);
  let stack: Stack;
  const write = (engines: unknown[]): Promise<void> => writeFile(stack.env.config.enginesFile, JSON.stringify({ engines }));
  const reload = async (): Promise<void> => {
    await stack.menage?.reload();
    await stack.frontend.reload();
  };
  const jobView = async (id: string): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${stack.url}/jobs/${id}`);
    return { status: res.status, json: await res.json() };
  };

  before(async () => {
    await docker.getImage('menagerie/md5:1.0.0').tag(NEXT);
    stack = await startStack([md5()]);
  });
  after(async () => {
    // The queue of an engine a reload added is not in the test env's topology list.
    const conn = await connect(stack.env.config.rabbitmq.url);
    await conn.createChannel().then((ch) => ch.deleteQueue(names(stack.env.config.rabbitmq.prefix).queue('yara'))).catch(() => undefined);
    await conn.close();
    await stack?.close();
    await docker.getImage(next).remove().catch(() => undefined);
  });

  it('an engine added to engines.json takes uploads after a reload, and its jobs record the image that ran them', async () => {
    expect((await upload(stack.url, 'yara', 'x')).json.error.code).to.equal('UNKNOWN_ENGINE');
    await write([md5(), yara]);
    await reload();
    expect(stack.menage?.consumers.length).to.equal(2);
    const { status, json } = await upload(stack.url, 'yara', 'see http://example.invalid/x here');
    expect(status).to.equal(200);
    expect((await waitDone(stack.url, json.jobid)).status).to.equal('Success');
    const result = JSON.parse(await (await fetch(`${stack.url}/link/${json.jobid}`)).text()) as { matches: { rule: string }[] };
    expect(result.matches.map((m) => m.rule)).to.deep.equal(['embedded_url']);
    const view = await jobView(json.jobid);
    const image = await docker.getImage('menagerie/yara:1.0.0').inspect();
    expect(view.json.containment).to.include({ image: 'menagerie/yara:1.0.0', imageId: image.Id });
    expect(view.json.containment.repoDigests).to.be.an('array');
  });

  it('an engine that fails its conformance kit is not enabled, and nothing else changes', async () => {
    await write([md5(), yara, echo]);
    let refused: Error | undefined;
    await stack.menage?.reload().catch((err: Error) => { refused = err; });
    expect(refused?.message).to.match(/engine "echo" .* (failed its conformance kit|no golden samples)/s);
    expect(stack.menage?.consumers.length).to.equal(2);
    await write([md5(), yara]);
  });

  it('a new version of an engine runs the jobs uploaded after the reload', async () => {
    await write([md5({ image: next }), yara]);
    await reload();
    const { json } = await upload(stack.url, 'md5', 'hello\n');
    expect(await waitDone(stack.url, json.jobid)).to.include({ status: 'Success', summary: 'b1946ac92492d2347c6235b4d2611184\n' });
    expect((await jobView(json.jobid)).json.containment.image).to.equal(next);
  });

  it('a removed engine stops taking uploads and keeps its history', async () => {
    const { json } = await upload(stack.url, 'yara', 'nothing to see');
    expect((await waitDone(stack.url, json.jobid)).status).to.equal('Success');
    await write([md5({ image: next })]);
    await reload();
    expect(stack.menage?.consumers.length).to.equal(1);
    const refused = await upload(stack.url, 'yara', 'x');
    expect(refused.status).to.equal(404);
    expect(refused.json.error.code).to.equal('UNKNOWN_ENGINE');
    const old = await jobView(json.jobid);
    expect(old.status).to.equal(200);
    expect(old.json).to.include({ engine: 'yara', status: 'Success' });
    expect(await (await fetch(`${stack.url}/link/${json.jobid}`)).text()).to.match(/"schema": "menagerie.yara\/1"/);
    expect(await waitNoContainers(docker, stack.node)).to.deep.equal([]);
  });
});

import { expect } from 'chai';
import Docker from 'dockerode';
import { startDockerProxy, type DockerProxy } from '../../../src/docker-proxy.js';
import { startMenage } from '../../../src/menage.js';
import { testEngine } from '../../support/services.js';
import { startStack, upload, waitDone, waitNoContainers, type Stack } from '../../support/stack.js';
import { memoryLog } from '../../support/log.js';

describe('docker-proxy: the real menage runs jobs through it (menage.dockerSocket = tcp:// URL)', function () {
  this.timeout(120_000);
  let stack: Stack;
  let proxy: DockerProxy;
  const proxyLogs: string[] = [];

  before(async () => {
    stack = await startStack([testEngine('copy'), testEngine('capped', { volumesize: '8m' }), testEngine('pooled', { warm: 2 })], { menage: false });
    proxy = await startDockerProxy(stack.env.config, memoryLog(proxyLogs), { listen: { host: '127.0.0.1', port: 0 }, socketPath: '/var/run/docker.sock' });
    const c = stack.env.config;
    const tcp = proxy.url.replace(/^http:/, 'tcp:');
    stack.menage = await startMenage({ ...c, menage: { ...c.menage, frontendUrl: stack.internalUrl, dockerSocket: tcp } }, memoryLog(stack.logs), { node: stack.node });
  });
  after(async () => {
    await stack?.close();
    await proxy?.close();
  });

  it('uploads run to Success on every engine (plain, capped volume, warm pool), nothing is refused and nothing is left behind', async () => {
    const docker = new Docker();
    const idle = async (): Promise<number> => (await docker.listContainers({ all: true, filters: { label: [`org.menagerie.node=${stack.node}`, 'org.menagerie.role=pool'], status: ['created'] } })).length;
    for (const until = Date.now() + 30_000; (await idle()) < 2 && Date.now() < until;) await new Promise((r) => setTimeout(r, 200));
    expect(await idle(), 'the warm pool filled through the proxy').to.equal(2);
    const jobs = await Promise.all(['copy', 'capped', 'pooled'].map(async (engine) => {
      const { status, json } = await upload(stack.url, engine, `sample for ${engine}`);
      expect(status, JSON.stringify(json)).to.equal(200);
      return { engine, id: json.jobid as string };
    }));
    for (const { engine, id } of jobs) {
      const done = await waitDone(stack.url, id, 60_000);
      expect(done.status, done.summary).to.equal('Success');
      expect(await (await fetch(`${stack.url}${done.link}`)).text()).to.equal(`sample for ${engine}`);
    }
    const pooled = (await (await fetch(`${stack.url}/jobs/${jobs[2]!.id}`)).json()) as { containment: { pooled: boolean } };
    expect(pooled.containment.pooled, 'the pooled engine\'s job ran in a container created ahead').to.equal(true);
    expect(await waitNoContainers(docker, stack.node, 15_000, { idlePool: 'ignore' })).to.deep.equal([]);
    // menage stopping removes its waiting pool containers, through the proxy too.
    await stack.menage!.close();
    expect(await waitNoContainers(docker, stack.node)).to.deep.equal([]);
    expect(proxyLogs.filter((l) => l.includes('refused'))).to.deep.equal([]);
  });
});

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
    stack = await startStack([testEngine('copy'), testEngine('capped', { volumesize: '8m' })], { menage: false });
    proxy = await startDockerProxy(stack.env.config, memoryLog(proxyLogs), { listen: { host: '127.0.0.1', port: 0 }, socketPath: '/var/run/docker.sock' });
    const c = stack.env.config;
    const tcp = proxy.url.replace(/^http:/, 'tcp:');
    stack.menage = await startMenage({ ...c, menage: { ...c.menage, frontendUrl: stack.internalUrl, dockerSocket: tcp } }, memoryLog(stack.logs), { node: stack.node });
  });
  after(async () => {
    await stack?.close();
    await proxy?.close();
  });

  it('uploads run to Success on both engines, nothing is refused and nothing is left behind', async () => {
    const jobs = await Promise.all(['copy', 'capped'].map(async (engine) => {
      const { status, json } = await upload(stack.url, engine, `sample for ${engine}`);
      expect(status, JSON.stringify(json)).to.equal(200);
      return { engine, id: json.jobid as string };
    }));
    for (const { engine, id } of jobs) {
      const done = await waitDone(stack.url, id, 60_000);
      expect(done.status, done.summary).to.equal('Success');
      expect(await (await fetch(`${stack.url}${done.link}`)).text()).to.equal(`sample for ${engine}`);
    }
    expect(await waitNoContainers(new Docker(), stack.node)).to.deep.equal([]);
    expect(proxyLogs.filter((l) => l.includes('refused'))).to.deep.equal([]);
  });
});

import { expect } from 'chai';
import { request } from 'node:http';
import Docker from 'dockerode';
import { startEnforcer, type RunningEnforcer } from '../../../src/enforcer.js';
import { IMAGE, KILL_LABEL, mine, newRun, requireDocker, TEST_LABEL, testConfig } from './helpers.js';
import { PrivateDaemon } from './private-daemon.js';

describe('enforcer AuthZ plugin with a private dockerd', function () {
  this.timeout(120_000);
  const run = newRun();
  const daemon = new PrivateDaemon(run, `enf-test-authz-${run}`);
  const privateDocker = new Docker({ socketPath: daemon.socket });
  let enforcer: RunningEnforcer | undefined;
  const labels = ['--label', `${TEST_LABEL}=${run}`, '--label', `${KILL_LABEL}=${run}`];

  before(async function () {
    await requireDocker(new Docker());
    const rules = {
      rules: [
        { name: 'test-not-privileged', description: 'privileged containers are not allowed', violation: mine(run, { field: 'container.privileged', op: 'eq', value: true }) },
        { name: 'test-memory-limit', description: 'a memory limit is required', violation: mine(run, { field: 'container.memory', op: 'eq', value: 0 }) },
        { name: 'test-pids-limit', description: 'a pids limit is required', violation: mine(run, { field: 'container.pidsLimit', op: 'eq', value: 0 }) },
      ],
    };
    // Only the AuthZ source: nothing scans or kills; the daemon it judges is private to this test.
    const config = testConfig(run, rules, { authz: { listen: { host: '127.0.0.1', port: 0 } } });
    enforcer = await startEnforcer(config, { docker: privateDocker, log: () => undefined });
    await daemon.start(enforcer.authzAddress as string);
    await daemon.loadImage(IMAGE);
  });
  after(async () => {
    await daemon.stop();
    await enforcer?.close();
  });

  it('activates as an authz plugin', async () => {
    const url = (enforcer?.authzAddress as string).replace('tcp://', 'http://');
    const res = await fetch(`${url}/Plugin.Activate`, { method: 'POST' });
    expect(await res.json()).to.deep.equal({ Implements: ['authz'] });
  });

  it('also serves the plugin on a unix socket, as unix:// for a spec file', async () => {
    const socket = `/tmp/enf-test-${run}-authz.sock`;
    const other = await startEnforcer(testConfig(run, { rules: [] }, { authz: { listen: { socket } } }), { docker: privateDocker, log: () => undefined });
    try {
      expect(other.authzAddress).to.equal(`unix://${socket}`);
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ socketPath: socket, path: '/Plugin.Activate', method: 'POST' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).to.deep.equal({ Implements: ['authz'] });
    } finally {
      await other.close();
    }
  });

  it('denies docker run --privileged naming the rule, and starts a compliant container', async () => {
    const denied = await daemon.cli(['run', '--rm', '--privileged', '--network', 'none', '--memory', '32m', '--pids-limit', '50', ...labels, IMAGE, 'true']);
    expect(denied.code, denied.stderr).to.not.equal(0);
    expect(denied.stderr).to.include('authorization denied by plugin').and.include('test-not-privileged');
    const ok = await daemon.cli(['run', '--rm', '--network', 'none', '--memory', '32m', '--pids-limit', '50', ...labels, IMAGE, 'echo', 'compliant']);
    expect(ok.stderr).to.equal('');
    expect(ok.stdout.trim()).to.equal('compliant');
    const d = enforcer?.detections.history().find((x) => x.outcome === 'denied');
    expect(d?.violations.map((v) => v.rule)).to.deep.equal(['test-not-privileged']);
    expect(d?.source).to.equal('authz');
  });

  it('denies a create whose body it cannot parse', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ socketPath: daemon.socket, path: '/v1.41/containers/create', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('{"Image": "menagerie/busybox:latest", "HostConfig": ');
    });
    expect(answer.status).to.equal(403);
    expect(answer.body).to.include('unreadable-create-body');
  });

  it('reads a create body as Docker does: case-folded and duplicate keys cannot smuggle privileged past it', async () => {
    const create = (text: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
      const req = request({ socketPath: daemon.socket, path: '/v1.41/containers/create', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(text);
    });
    const head = `"Image":"${IMAGE}","Labels":{"${TEST_LABEL}":"${run}","${KILL_LABEL}":"${run}"}`;
    const limits = '"Memory":67108864,"PidsLimit":32';
    const tricks = [
      // Go keeps the last of two keys equal under case folding: privileged there, harmless here.
      `{${head},"HostConfig":{${limits}},"hostconfig":{${limits},"Privileged":true}}`,
      // One key, spelled in another case: Docker reads it as HostConfig.
      `{${head},"hostconfig":{${limits},"privileged":true}}`,
      // "ſ" folds to "s" in Go: HoſtConfig is HostConfig.
      `{${head},"HoſtConfig":{${limits},"Privileged":true}}`,
    ];
    for (const text of tricks) {
      const answer = await create(text);
      expect(answer.status, text).to.equal(403);
      expect(answer.body, text).to.match(/test-not-privileged|unreadable-create-body/);
    }
  });

  it('denies a privileged exec and an update lifting the pids limit, allows a harmless update', async () => {
    const started = await daemon.cli(['run', '-d', '--name', `enf-test-${run}-exec`, '--network', 'none', '--memory', '32m', '--pids-limit', '50', ...labels, IMAGE, 'sleep', '60']);
    expect(started.code, started.stderr).to.equal(0);
    const exec = await daemon.cli(['exec', '--privileged', `enf-test-${run}-exec`, 'true']);
    expect(exec.code).to.not.equal(0);
    expect(exec.stderr).to.include('privileged exec');
    expect((await daemon.cli(['exec', `enf-test-${run}-exec`, 'true'])).code).to.equal(0);
    const unlimited = await daemon.cli(['update', '--pids-limit', '-1', `enf-test-${run}-exec`]);
    expect(unlimited.code).to.not.equal(0);
    expect(unlimited.stderr).to.include('authorization denied by plugin').and.include('test-pids-limit');
    // Fields an update leaves at zero mean "unchanged", not "no limit".
    const cpus = await daemon.cli(['update', '--cpus', '0.5', `enf-test-${run}-exec`]);
    expect(cpus.code, cpus.stderr).to.equal(0);
    await daemon.cli(['rm', '-f', `enf-test-${run}-exec`]);
  });
});

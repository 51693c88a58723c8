import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createToken } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { databaseOptions } from '../../src/frontend.js';
import { cleanName } from '../../src/http/upload.js';
import { freePort } from '../support/private-services.js';
import { CliProcess } from '../support/processes.js';
import { createTestEnv, testEngine, type TestEnv } from '../support/services.js';
import { bearer, waitDone } from '../support/stack.js';

const KEY = 'k'.repeat(40);
const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist/src/cli.js');

/** A parsed log line: the fields every line has, and the rest. */
type Line = { time: string; level: string; name: string; msg: string } & Record<string, unknown>;

/** Every line of a process's output, parsed; a line that is not JSON fails the test. */
function parse(output: string, who: string): Line[] {
  return output.split('\n').filter((l) => l !== '').map((l, i) => {
    let parsed: Line;
    try {
      parsed = JSON.parse(l) as Line;
    } catch {
      throw new Error(`${who} line ${i + 1} is not JSON: ${l.slice(0, 300)}`);
    }
    expect(parsed, `${who} line ${i + 1}`).to.include.keys('time', 'level', 'name', 'msg');
    expect(Number.isNaN(Date.parse(parsed.time)), `${who} line ${i + 1}: time`).to.equal(false);
    return parsed;
  });
}

/** A multipart upload whose file name is sent raw (RFC 5987 `filename*`: any bytes, a newline too). */
function multipart(filename: string, body: string): { body: string; type: string } {
  const b = 'x-boundary-1234';
  const encoded = encodeURIComponent(filename).replace(/'/g, '%27');
  return {
    type: `multipart/form-data; boundary=${b}`,
    body: `--${b}\r\nContent-Disposition: form-data; name="upload"; filename*=UTF-8''${encoded}\r\n`
      + `Content-Type: application/octet-stream\r\n\r\n${body}\r\n--${b}--\r\n`,
  };
}

describe('e2e: the services log one JSON line per event (real frontend and menage processes)', function () {
  this.timeout(180_000);
  let env: TestEnv;
  const frontend: { proc?: CliProcess } = {};
  const menage: { proc?: CliProcess } = {};

  afterEach(async () => {
    await menage.proc?.stop();
    await frontend.proc?.stop();
    await env?.cleanup();
  });

  it('job lines carry jobid, engine and attempt on both processes; one access line per public request; no token; a hostile file name stays in its line', async () => {
    const [port, internalPort] = [await freePort(), await freePort()];
    env = await createTestEnv([testEngine('md5'), testEngine('copy')], {
      listen: { host: '127.0.0.1', port }, internalListen: { host: '127.0.0.1', port: internalPort },
      auth: { mode: 'tokens', key: KEY, uploadsPerMinute: 1_000_000, uploadBurst: 1_000_000 },
      menage: { frontendUrl: `http://127.0.0.1:${internalPort}`, shutdownGraceSeconds: 2, node: 'logs-node-1' },
    });
    const config = join(env.dir, 'config.json');
    frontend.proc = new CliProcess('frontend', config);
    await frontend.proc.start(/frontend listening/);
    menage.proc = new CliProcess('menage', config);
    await menage.proc.start(/menage running/, 60_000);
    const url = `http://127.0.0.1:${port}`;

    const tokens = new TokenStore(databaseOptions(env.config));
    const { token, id: tokenId } = await createToken(tokens, KEY, { name: 'log-reader', role: 'admin' }).finally(() => tokens.close());

    // The public requests, each with a request id of our own (one with a hostile one).
    // Control characters are dropped from stored names (cleanName); quotes and braces stay.
    const hostile = 'evil\n{"level":"fatal","name":"frontend","msg":"forged"}\r\n\u001b[31m"\u202e.bin';
    const sent: { rid: string; status: number; route: string | null }[] = [];
    const call = async (rid: string, path: string, init: RequestInit = {}): Promise<Response> => {
      const res = await fetch(`${url}${path}`, { ...init, headers: { ...bearer(token), 'x-request-id': rid, ...(init.headers as Record<string, string>) } });
      expect(res.headers.get('x-request-id'), `the request id of ${path}`).to.equal(rid);
      return res;
    };
    const form = multipart(hostile, 'hello');
    const up = await call('req-upload-1', '/md5/upload', { method: 'POST', body: form.body, headers: { 'content-type': form.type } });
    expect(up.status).to.equal(200);
    const jobid = ((await up.json()) as { jobid: string }).jobid;
    sent.push({ rid: 'req-upload-1', status: 200, route: '/:engine/upload' });
    const done = await waitDone(url, jobid, 60_000, token);
    expect(done.status).to.equal('Success');
    const both = multipart('both.bin', 'for two engines');
    const submitted = await call('req-submit-1', '/api/v1/submissions?engines=md5,copy', { method: 'POST', body: both.body, headers: { 'content-type': both.type } });
    expect(submitted.status).to.equal(201);
    const submittedIds = ((await submitted.json()) as { jobs: { jobid: string }[] }).jobs.map((j) => j.jobid);
    expect(submittedIds).to.have.length(2);
    const listed = await call('req-list-1', '/api/v1/jobs?filename=secret-name-in-query&limit=5');
    expect(listed.status).to.equal(200);
    sent.push({ rid: 'req-list-1', status: 200, route: '/api/v1/jobs' });
    const missing = await call('req-missing-1', '/result/999999999');
    expect(missing.status).to.equal(404);
    sent.push({ rid: 'req-missing-1', status: 404, route: '/result/:id' });
    const forged = await call('req-forged-1', '/result/1%0A%7B%22msg%22:%22forged%22%7D%1B[31m?token=%0Aforged');
    expect(forged.status).to.equal(400);
    sent.push({ rid: 'req-forged-1', status: 400, route: '/result/:id' });
    const refused = await fetch(`${url}/result/${jobid}`, { headers: { authorization: 'Bearer not-a-token-at-all', 'x-request-id': 'has spaces "and quotes"' } });
    expect(refused.status).to.equal(401);
    const madeId = refused.headers.get('x-request-id') ?? '';
    expect(madeId, 'a request id of our own replaces an unsafe one').to.match(/^[0-9a-f-]{36}$/);

    await menage.proc.stop();
    await frontend.proc.stop();
    const fLines = parse(frontend.proc.output, 'frontend');
    const mLines = parse(menage.proc.output, 'menage');
    expect(new Set(fLines.map((l) => l.name))).to.deep.equal(new Set(['frontend']));
    expect(new Set(mLines.map((l) => l.name))).to.deep.equal(new Set(['menage']));
    expect(mLines.every((l) => l.node === 'logs-node-1'), 'every menage line names its node').to.equal(true);

    // The job's lines, on both processes, name it fully.
    const ofJob = (lines: Line[]): Line[] => lines.filter((l) => l.jobid === jobid);
    for (const l of [...ofJob(fLines), ...ofJob(mLines)].filter((x) => x.msg !== 'request')) {
      expect(l, l.msg).to.include({ engine: 'md5' }).and.to.have.property('attempt');
    }
    const fMsgs = ofJob(fLines).map((l) => l.msg);
    expect(fMsgs).to.include.members(['job accepted', 'job started', 'job succeeded']);
    expect(ofJob(fLines).find((l) => l.msg === 'job succeeded')).to.include({ attempt: 1 });
    expect(ofJob(mLines).find((l) => l.msg === `job ${jobid}: done`), 'menage\'s line of the job').to.include({ engine: 'md5', attempt: 1 });

    // The hostile file name is one field of one line; nothing was forged.
    expect(fLines.find((l) => l.msg === 'job accepted')?.filename).to.equal(cleanName(hostile));
    expect([...fLines, ...mLines].filter((l) => l.msg === 'forged' || l.level === 'fatal')).to.deep.equal([]);

    // One access line per public request, with status, duration, route and the token's name.
    const access = fLines.filter((l) => l.msg === 'request' && l.listener === 'public');
    for (const s of sent) {
      const mine = access.filter((l) => l.requestId === s.rid);
      expect(mine, s.rid).to.have.length(1);
      expect(mine[0], s.rid).to.include({ status: s.status, route: s.route, level: 'info' });
      expect(mine[0]?.durationMs, s.rid).to.be.a('number').and.at.least(0);
      expect(mine[0]?.bytesOut, s.rid).to.be.a('number').and.above(0);
      expect(mine[0]?.token, s.rid).to.deep.include({ id: tokenId, name: 'log-reader' });
    }
    expect(access.find((l) => l.requestId === 'req-upload-1')?.bytesIn).to.equal(Buffer.byteLength(form.body));
    // An upload's line names the job(s) it created: `jobid`, or `jobids` for several engines.
    expect(access.find((l) => l.requestId === 'req-upload-1')).to.include({ jobid }).and.not.have.property('jobids');
    const submitLine = access.find((l) => l.requestId === 'req-submit-1');
    expect(submitLine).to.deep.include({ status: 201, jobids: submittedIds }).and.not.have.property('jobid');
    expect(access.find((l) => l.requestId === 'req-list-1')?.path).to.equal('/api/v1/jobs?filename=*&limit=5');
    expect(access.filter((l) => l.requestId === madeId).map((l) => l.status)).to.deep.equal([401]);

    // No secret anywhere: the token, the query's file name, the refused bearer.
    const all = frontend.proc.output + menage.proc.output;
    for (const secret of [token, token.slice(-20), 'secret-name-in-query', 'not-a-token-at-all', env.config.internalToken, KEY]) {
      expect(all.includes(secret), `the output holds ${secret.slice(0, 6)}…`).to.equal(false);
    }
    expect(fLines.some((l) => l.level === 'info' && /shutting down/.test(l.msg))).to.equal(true);
  });

  it('a service that cannot start says why in one JSON line on its log (and in plain text on stderr), whatever the service', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'menagerie-startup-'));
    try {
      await writeFile(join(dir, 'engines.json'), JSON.stringify({ engines: [{ name: 'md5', workers: 'many' }] }));
      await writeFile(join(dir, 'config.json'), JSON.stringify({ rabbitmq: { url: 'amqp://unused.invalid', prefix: 'startup' }, internalToken: 'x'.repeat(32), engines: 'engines.json' }));
      for (const service of ['frontend', 'menage', 'docker-proxy', 'cleanup']) {
        const r = await run(process.execPath, [CLI, service, '--config', join(dir, 'config.json')]).then(() => ({ code: 0, stdout: '', stderr: '' }), (e: { code: number; stdout: string; stderr: string }) => e);
        expect(r.code, `${service}: exit code`).to.equal(2);
        const lines = parse(r.stdout, service);
        expect(lines, `${service}: its log`).to.have.length(1);
        expect(lines[0]).to.include({ level: 'fatal', name: service });
        expect(lines[0]!.msg).to.match(new RegExp(`^${service} cannot start: invalid configuration`));
        expect(lines[0]!.problems, `${service}: the problems, as fields`).to.be.an('array').that.is.not.empty;
        expect(JSON.stringify(lines[0]!.problems)).to.match(/workers/);
        expect(r.stderr, `${service}: the plain line`).to.match(/^menagerie: invalid configuration/).and.not.match(/\n\s+at /);
      }
      // The enforcer, with its own configuration file.
      const r = await run(process.execPath, [CLI, 'enforcer', '--config', join(dir, 'missing.json')]).then(() => ({ code: 0, stdout: '', stderr: '' }), (e: { code: number; stdout: string; stderr: string }) => e);
      expect(r.code, 'enforcer: exit code').to.not.equal(0);
      expect(parse(r.stdout, 'enforcer').map((l) => [l.level, l.name])).to.deep.equal([['fatal', 'enforcer']]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

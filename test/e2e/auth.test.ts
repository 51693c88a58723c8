import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { createToken, revokeTokens } from '../../src/auth/token-admin.js';
import { TokenStore } from '../../src/auth/token-store.js';
import { databaseOptions } from '../../src/frontend.js';
import { rawRequest } from '../support/raw-http.js';
import { bearer, startStack, upload, waitDone, type Stack } from '../support/stack.js';
import { testEngine } from '../support/services.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist/src/cli.js');
const KEY = randomBytes(32).toString('hex');

describe('e2e: API tokens on the public API (auth.mode "tokens")', function () {
  this.timeout(120_000);
  let stack: Stack;
  let tokens: TokenStore;
  const t: Record<'alice' | 'alice2' | 'bob' | 'reader' | 'admin' | 'worker', string> = { alice: '', alice2: '', bob: '', reader: '', admin: '', worker: '' };
  let aliceJob = '';

  const get = (path: string, token?: string) => rawRequest(stack.url, 'GET', path, bearer(token));

  before(async () => {
    stack = await startStack([{ ...testEngine('md5', { image: 'menagerie/md5:latest', cmd: '/engine/run' }) }],
      { overrides: { auth: { mode: 'tokens', key: KEY, uploadsPerMinute: 60, uploadBurst: 3 } } });
    tokens = new TokenStore(databaseOptions(stack.env.config));
    t.alice = (await createToken(tokens, KEY, { name: 'alice-laptop', owner: 'alice', role: 'submit' })).token;
    t.alice2 = (await createToken(tokens, KEY, { name: 'alice-ci', owner: 'alice', role: 'submit' })).token;
    t.bob = (await createToken(tokens, KEY, { name: 'bob', role: 'submit' })).token;
    t.reader = (await createToken(tokens, KEY, { name: 'reader', role: 'read' })).token;
    t.admin = (await createToken(tokens, KEY, { name: 'admin', role: 'admin' })).token;
    t.worker = (await createToken(tokens, KEY, { name: 'node-1', role: 'worker' })).token;
    const res = await upload(stack.url, 'md5', 'hello alice', { token: t.alice });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    aliceJob = res.json.jobid;
    expect((await waitDone(stack.url, aliceJob, 60_000, t.alice)).status).to.equal('Success');
  });
  after(async () => {
    await tokens?.close();
    await stack?.close();
  });

  const readPaths = (id: string): string[] => [`/result/${id}`, `/link/${id}`, `/jobs/${id}`, `/jobs/${id}/log`];

  it('refuses every public route without a valid token (401, WWW-Authenticate), before reading a body', async () => {
    const wrong = ['', 'Bearer', 'Bearer mng_short', `Bearer ${t.alice}x`, `Basic ${Buffer.from('a:b').toString('base64')}`,
      `bearer ${t.alice}`, `Bearer  ${t.alice}`, `Bearer mng_${'A'.repeat(32)}`];
    for (const authorization of wrong) {
      for (const path of readPaths(aliceJob)) {
        const res = await rawRequest(stack.url, 'GET', path, authorization ? { authorization } : {});
        expect(res.status, `${path} with ${JSON.stringify(authorization)}`).to.equal(401);
        expect(res.json.error.code).to.equal('UNAUTHORIZED');
        expect(String(res.headers['www-authenticate'])).to.match(/^Bearer/);
      }
      const up = await upload(stack.url, 'md5', 'x', {});
      expect(up.status).to.equal(401);
    }
    expect((await get('/healthz')).status, 'health stays open for probes').to.equal(200);
  });

  it('a refused upload leaves nothing behind and does not read its body', async () => {
    const before = await jobCount(stack);
    const big = randomBytes(2 * 1024 * 1024);
    const started = Date.now();
    const res = await upload(stack.url, 'md5', big, { token: 'mng_' + 'x'.repeat(32) });
    expect(res.status).to.equal(401);
    expect(res.headers.get('connection')).to.equal('close');
    expect(Date.now() - started).to.be.below(5000);
    expect(await jobCount(stack)).to.equal(before);
    expect(await readdir(join(stack.env.config.store.dir, '.tmp')).catch(() => [])).to.deep.equal([]);
  });

  it('a submit token reads its owner\'s jobs (any of the owner\'s tokens), another owner gets 404 on every route', async () => {
    for (const path of readPaths(aliceJob)) {
      expect((await get(path, t.alice)).status, path).to.equal(200);
      expect((await get(path, t.alice2)).status, `${path} with the owner's second token`).to.equal(200);
      const other = await get(path, t.bob);
      expect(other.status, `${path} as bob`).to.equal(404);
      expect(other.json.error.code).to.equal('JOB_NOT_FOUND');
      // Same answer as for a job that does not exist: no existence oracle.
      const missing = await get(path.replace(aliceJob, '999999'), t.bob);
      expect(missing.json).to.deep.equal({ error: { code: 'JOB_NOT_FOUND', message: other.json.error.message.replace(aliceJob, '999999') } });
    }
  });

  it('read and admin tokens read every job; read may not upload (403); worker tokens may do nothing public (403)', async () => {
    for (const path of readPaths(aliceJob)) {
      expect((await get(path, t.reader)).status, `${path} as reader`).to.equal(200);
      expect((await get(path, t.admin)).status, `${path} as admin`).to.equal(200);
      const w = await get(path, t.worker);
      expect(w.status, `${path} as worker`).to.equal(403);
      expect(w.json.error.code).to.equal('FORBIDDEN');
    }
    const r = await upload(stack.url, 'md5', 'x', { token: t.reader });
    expect(r.status).to.equal(403);
    expect(r.json.error).to.include({ code: 'FORBIDDEN' });
    expect((await upload(stack.url, 'md5', 'x', { token: t.worker })).status).to.equal(403);
  });

  it('stores tokens only as an HMAC: the database holds no token', async () => {
    const conn = await mysql.createConnection({ host: '127.0.0.1', user: stack.env.db.user, password: stack.env.db.password, database: stack.env.db.name });
    try {
      const [rows] = await conn.query('SELECT * FROM api_tokens');
      const dump = JSON.stringify(rows);
      for (const token of Object.values(t)) {
        expect(dump).to.not.include(token);
        expect(dump).to.not.include(token.slice(4, 20));
      }
      const [owners] = await conn.query('SELECT owner FROM jobs WHERE id = ?', [aliceJob]);
      expect(owners).to.deep.equal([{ owner: 'alice' }]);
    } finally {
      await conn.end();
    }
  });

  it('limits uploads per token: 429 with Retry-After after the burst, other tokens unaffected', async () => {
    const { token } = await createToken(tokens, KEY, { name: 'burst', role: 'submit' });
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < 5; i++) {
      const res = await upload(stack.url, 'md5', `burst ${i}`, { token });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.json.error.code).to.equal('RATE_LIMITED');
        retryAfter = res.headers.get('retry-after') ?? '';
      }
    }
    expect(statuses.slice(0, 3)).to.deep.equal([200, 200, 200]);
    expect(statuses.slice(3)).to.deep.equal([429, 429]);
    expect(Number(retryAfter)).to.be.within(1, 2);
    expect((await upload(stack.url, 'md5', 'another token', { token: t.admin })).status).to.equal(200);
  });

  it('the internal API takes its shared token and active worker tokens, nothing else', async () => {
    const health = (token: string) => rawRequest(stack.internalUrl, 'GET', '/internal/healthz', bearer(token));
    expect((await health(stack.env.config.internalToken)).status).to.equal(200);
    expect((await health(t.worker)).status, 'a worker node\'s token').to.equal(200);
    for (const token of [t.admin, t.reader, t.alice, 'mng_' + 'A'.repeat(32)]) {
      expect((await health(token)).status, 'tokens of other roles').to.equal(401);
    }
    const node = await createToken(tokens, KEY, { name: 'node-2', role: 'worker' });
    expect((await health(node.token)).status).to.equal(200);
    expect(await revokeTokens(tokens, 'node-2')).to.equal(1);
    expect((await health(node.token)).status, 'a revoked worker token, once revoking has answered').to.equal(401);
  });

  it('menagerie token create|list|revoke: shown once, listed without the secret, refused at once when revoked', async () => {
    const config = join(stack.env.dir, 'config.json');
    const made = await run(process.execPath, [CLI, 'token', 'create', '--name', 'carol', '--role', 'submit', '--config', config]);
    const token = made.stdout.trim();
    expect(token).to.match(/^mng_[A-Za-z0-9_-]{32}$/);
    expect((await upload(stack.url, 'md5', 'carol', { token })).status).to.equal(200);
    const listed = await run(process.execPath, [CLI, 'token', 'list', '--json', '--config', config]);
    const carol = (JSON.parse(listed.stdout) as { name: string; role: string; revoked: string | null; hint: string }[]).find((x) => x.name === 'carol');
    expect(carol).to.include({ role: 'submit', revoked: null, hint: token.slice(4, 10) });
    expect(listed.stdout).to.not.include(token);
    const dup = await run(process.execPath, [CLI, 'token', 'create', '--name', 'carol', '--role', 'read', '--config', config]).catch((e: { code: number; stderr: string }) => e);
    expect(dup).to.include({ code: 2 });
    expect((dup as { stderr: string }).stderr).to.match(/already named "carol"/).and.not.match(/\n\s+at /);
    await run(process.execPath, [CLI, 'token', 'revoke', 'carol', '--config', config]);
    expect((await upload(stack.url, 'md5', 'carol again', { token })).status).to.equal(401);
    const bad = await run(process.execPath, [CLI, 'token', 'create', '--name', 'x', '--role', 'root', '--config', config]).catch((e: { code: number; stderr: string }) => e);
    expect(bad).to.include({ code: 2 });
    expect((bad as { stderr: string }).stderr).to.match(/role "root" is not one of submit, read, admin, worker/);
  });
});

describe('e2e: a frontend in tokens mode needs a key', () => {
  it('refuses to start without auth.key, naming the setting', async () => {
    const err = await startStack([testEngine('copy')], { menage: false, overrides: { auth: { mode: 'tokens' } } }).then(
      async (s) => {
        await s.close();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).to.match(/auth\/key/);
  });
});

async function jobCount(stack: Stack): Promise<number> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', user: stack.env.db.user, password: stack.env.db.password, database: stack.env.db.name });
  try {
    const [rows] = await conn.query('SELECT COUNT(*) AS n FROM jobs');
    return Number((rows as { n: number }[])[0]?.n);
  } finally {
    await conn.end();
  }
}

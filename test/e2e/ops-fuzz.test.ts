import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Counter, Registry } from 'prom-client';
import { startEnforcer, type RunningEnforcer } from '../../src/enforcer.js';
import { listenOps } from '../../src/http/ops-server.js';
import { newRun, testConfig } from '../integration/enforcer/helpers.js';
import { startFrontendProcess, type FrontendProcess } from '../support/frontend-process.js';
import { Rng } from '../support/multipart-fuzz.js';
import { judgeOps, makeOpsCase, type OpsTokens } from '../support/ops-fuzz.js';
import { rawRequest } from '../support/raw-socket.js';
import { roleTokens } from '../support/role-tokens.js';
import { testEngine } from '../support/services.js';

const COUNT = Number(process.env.MENAGERIE_FUZZ_COUNT ?? 600);
const BUDGET_MS = 60_000;
const PARALLEL = 6;

/** The seed: from MENAGERIE_FUZZ_SEED to replay a failure, else fresh. */
const SEED = Number(process.env.MENAGERIE_FUZZ_SEED ?? randomBytes(4).readUInt32BE());
const ONLY = process.env.MENAGERIE_FUZZ_CASE === undefined ? undefined : Number(process.env.MENAGERIE_FUZZ_CASE);
const REPLAY = `replay with MENAGERIE_FUZZ_SEED=${SEED} (and MENAGERIE_FUZZ_CASE=<n> for one case)`;

/** Runs the cases (PARALLEL at a time, within the budget) against a port and judges each outcome. */
async function fuzz(name: string, port: number, tokens: OpsTokens, salt: number): Promise<{ ran: number; failures: string[] }> {
  const [from, to] = ONLY === undefined ? [0, COUNT - 1] : [ONLY, ONLY];
  const started = Date.now();
  const failures: string[] = [];
  const tally = new Map<string, number>();
  let next = from;
  const runCase = async (i: number): Promise<void> => {
    const c = makeOpsCase(new Rng((SEED ^ salt ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0), tokens);
    const out = await rawRequest(port, c.request);
    const key = out.kind === 'response' ? String(out.status) : out.kind;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    const problem = judgeOps(c, out);
    if (problem) failures.push(`case ${i} [${c.label}]: ${problem}`);
  };
  const worker = async (): Promise<void> => {
    while (next <= to && Date.now() - started < BUDGET_MS) await runCase(next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const ran = Math.min(next, to + 1) - from;
  console.log(`      fuzz ${name}: seed=${SEED} cases=${ran} in ${((Date.now() - started) / 1000).toFixed(1)}s outcomes=${JSON.stringify(Object.fromEntries(tally))}`);
  return { ran, failures };
}

/** The token with another last character. */
function otherLast(token: string): string {
  return token.slice(0, -1) + (token.endsWith('x') ? 'y' : 'x');
}

/** The listener still answers: health without a token, metrics with the right one only. */
async function expectServing(url: string, token: string, wrong: string): Promise<void> {
  expect((await fetch(`${url}/healthz`)).status).to.equal(200);
  expect((await fetch(`${url}/readyz`)).status).to.equal(200);
  expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).to.equal(200);
  expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${wrong}` } })).status).to.equal(401);
}

describe('e2e: /metrics, /healthz and /readyz under hostile requests', function () {
  this.timeout(180_000);

  describe('the frontend (a real process, tokens mode)', () => {
    let fe: FrontendProcess;
    let tokens: Awaited<ReturnType<typeof roleTokens>>;

    before(async () => {
      const key = randomBytes(24).toString('hex');
      fe = await startFrontendProcess([testEngine('fuzz')], { auth: { mode: 'tokens', key, uploadsPerMinute: 1_000_000, uploadBurst: 1_000_000 } });
      tokens = await roleTokens(fe.env.config, key);
    });
    after(async () => {
      await fe?.close();
    });

    it(`answers a clean 2xx or a JSON 4xx, never serves metrics for a wrong token, and keeps serving (seed ${SEED})`, async () => {
      const run = await fuzz('frontend', fe.port, { right: tokens.read, others: [tokens.submit, tokens.worker] }, 0x5eed);
      expect(run.failures, `${run.failures.length} cases broke the rule; ${REPLAY}:\n${run.failures.slice(0, 15).join('\n')}`).to.deep.equal([]);
      expect(run.ran, `too few cases ran in the time budget; ${REPLAY}`).to.be.at.least(ONLY === undefined ? Math.min(COUNT, 200) : 1);
      expect(fe.proc.running, `frontend exited:\n${fe.proc.output}`).to.equal(true);
      expect(fe.proc.pid).to.equal(fe.pid);
      await expectServing(fe.url, tokens.read, otherLast(tokens.read));
    });
  });

  describe('the operations listener (menage.listen)', () => {
    const token = randomBytes(16).toString('hex');
    let ops: Awaited<ReturnType<typeof listenOps>>;

    before(async () => {
      const registry = new Registry();
      new Counter({ name: 'fuzz_total', help: 'a metric to serve', registers: [registry] }).inc();
      ops = await listenOps({ registry, token, checks: { broker: async () => undefined } }, '127.0.0.1', 0);
    });
    after(async () => {
      await ops?.close();
    });

    it(`answers a clean 2xx or a JSON 4xx, never serves metrics for a wrong token, and keeps serving (seed ${SEED})`, async () => {
      const run = await fuzz('menage.listen', Number(new URL(ops.url).port), { right: token, others: [] }, 0x0b5);
      expect(run.failures, `${run.failures.length} cases broke the rule; ${REPLAY}:\n${run.failures.slice(0, 15).join('\n')}`).to.deep.equal([]);
      expect(run.ran, `too few cases ran in the time budget; ${REPLAY}`).to.be.at.least(ONLY === undefined ? Math.min(COUNT, 200) : 1);
      await expectServing(ops.url, token, otherLast(token));
    });
  });

  describe('the enforcer\'s API listener (a real enforcer on the Docker engine, with a token)', () => {
    const token = randomBytes(16).toString('hex');
    let enforcer: RunningEnforcer;

    before(async () => {
      const run = newRun();
      enforcer = await startEnforcer(testConfig(run, { rules: [] }, {
        periodic: { intervalSeconds: 60, immediate: false }, api: { listen: { host: '127.0.0.1', port: 0 }, token },
      }), { log: () => undefined });
    });
    after(async () => {
      await enforcer?.close();
    });

    it(`answers a clean 2xx or a JSON 4xx, never serves metrics for a wrong token, and keeps serving (seed ${SEED})`, async () => {
      const url = enforcer.apiAddress!;
      const run = await fuzz('enforcer.api', Number(new URL(url).port), { right: token, others: [] }, 0xe4f);
      expect(run.failures, `${run.failures.length} cases broke the rule; ${REPLAY}:\n${run.failures.slice(0, 15).join('\n')}`).to.deep.equal([]);
      expect(run.ran, `too few cases ran in the time budget; ${REPLAY}`).to.be.at.least(ONLY === undefined ? Math.min(COUNT, 200) : 1);
      await expectServing(url, token, otherLast(token));
    });
  });
});

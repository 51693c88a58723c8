import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFrontendProcess, type FrontendProcess } from '../support/frontend-process.js';
import { filePart, makeCase, multipart, referenceFile, Rng, type FuzzCase } from '../support/multipart-fuzz.js';
import { rawRequest, type RawOutcome } from '../support/raw-socket.js';
import { testEngine } from '../support/services.js';
import { upload } from '../support/stack.js';

const LIMIT = 4096;
const COUNT = Number(process.env.MENAGERIE_FUZZ_COUNT ?? 3000);
const BUDGET_MS = 75_000;
const PARALLEL = 8;

/** The seed: from MENAGERIE_FUZZ_SEED to replay a failure, else fresh. */
const SEED = Number(process.env.MENAGERIE_FUZZ_SEED ?? randomBytes(4).readUInt32BE());

/** A request head for a body sent in one piece. */
function post(path: string, contentType: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
}

/** An endpoint under fuzz: its path, the status of an accepted upload and the jobs one makes. */
interface Target { path: string; okStatus: number; jobsPerUpload: number }
const UPLOAD: Target = { path: '/fuzz/upload', okStatus: 200, jobsPerUpload: 1 };
const SUBMISSIONS: Target = { path: '/api/v1/submissions?engines=fuzz,fuzz2', okStatus: 201, jobsPerUpload: 2 };

/** Why an outcome breaks the rule (4xx JSON error or a clean close), or undefined if it keeps it. */
function judge(out: RawOutcome, okStatus = 200): string | undefined {
  if (out.kind === 'aborted' || out.kind === 'closed') return undefined;
  if (out.kind !== 'response') return `${out.kind}${out.kind === 'garbage' ? `: ${out.raw}` : ''}`;
  if (out.status === okStatus) return undefined;
  if (out.status < 400 || out.status > 499) return `status ${out.status}: ${out.body.toString().slice(0, 200)}`;
  if (!/^application\/json/.test(out.headers['content-type'] ?? '')) return `status ${out.status} without JSON: ${out.body.toString().slice(0, 200)}`;
  try {
    const json = JSON.parse(out.body.toString()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof json.error?.code !== 'string' || typeof json.error.message !== 'string') return `status ${out.status}: not an error object`;
  } catch {
    return `status ${out.status}: body is not JSON`;
  }
  return undefined;
}

/** The process still answers, has the pid it started with, and accepts a good upload. */
async function expectSameProcessServing(fe: FrontendProcess): Promise<string> {
  expect(fe.proc.running, `frontend exited:\n${fe.proc.output}`).to.equal(true);
  expect(fe.proc.pid).to.equal(fe.pid);
  expect((await fetch(`${fe.url}/healthz`)).status).to.equal(200);
  const good = await upload(fe.url, 'fuzz', 'a good sample');
  expect(good.status).to.equal(200);
  return String(good.json.jobid);
}

async function tmpFiles(fe: FrontendProcess): Promise<string[]> {
  return (await fe.storeFiles()).filter((f) => f.startsWith('.tmp/'));
}

describe('e2e: the upload endpoint of a real frontend process under hostile bodies', function () {
  this.timeout(180_000);
  let fe: FrontendProcess;
  const accepted = new Map<string, string>();
  /** Files of valid uploads whose client hung up before the answer: their jobs may exist. */
  const unanswered: string[] = [];

  before(async () => {
    fe = await startFrontendProcess([testEngine('fuzz', { sizelimit: LIMIT }), testEngine('fuzz2', { sizelimit: LIMIT })], { uploads: { idleTimeoutSeconds: 2, maxConcurrent: 64 } });
  });
  after(async () => {
    await fe?.close();
  });

  it('a second file in "upload" gets 400 JSON and the process lives on (issue 15.2)', async () => {
    const b = 'dup-boundary';
    const body = multipart(b, [filePart('upload', Buffer.from('first')), filePart('upload', Buffer.from('second'))]);
    const out = await rawRequest(fe.port, { pieces: [{ data: post('/fuzz/upload', `multipart/form-data; boundary=${b}`, body) }], ending: 'wait', timeoutMs: 10_000 });
    expect(out.kind === 'response' && out.status, JSON.stringify(out)).to.equal(400);
    expect(judge(out)).to.equal(undefined);
    expect(await tmpFiles(fe)).to.deep.equal([]);
    accepted.set(await expectSameProcessServing(fe), '');
  });

  it('a truncated multipart body gets 400 JSON and the process lives on (issue 15.2)', async () => {
    const b = 'cut-boundary';
    const whole = multipart(b, [filePart('upload', Buffer.from('some content'))]);
    // Inside the part headers, inside the content, after the content, inside the closing boundary.
    for (const cut of [10, 60, whole.length - 20, whole.length - 3]) {
      const body = whole.subarray(0, cut);
      const out = await rawRequest(fe.port, { pieces: [{ data: post('/fuzz/upload', `multipart/form-data; boundary=${b}`, body) }], ending: 'wait', timeoutMs: 10_000 });
      expect(out.kind === 'response' && out.status, `cut at ${cut}: ${JSON.stringify(out)}`).to.equal(400);
      expect(judge(out)).to.equal(undefined);
      expect(await tmpFiles(fe)).to.deep.equal([]);
    }
    accepted.set(await expectSameProcessServing(fe), '');
  });

  it(`answers thousands of mutated bodies with 4xx JSON or a clean close, keeps serving, leaves nothing behind (seed ${SEED})`, async () => {
    const replay = `replay with MENAGERIE_FUZZ_SEED=${SEED} (and MENAGERIE_FUZZ_CASE=<n> for one case)`;
    const only = process.env.MENAGERIE_FUZZ_CASE === undefined ? undefined : Number(process.env.MENAGERIE_FUZZ_CASE);
    const run = await fuzz(only === undefined ? [0, COUNT - 1] : [only, only], UPLOAD, BUDGET_MS);
    expect(run.failures, `${run.failures.length} cases broke the rule; ${replay}:\n${run.failures.slice(0, 15).join('\n')}`).to.deep.equal([]);
    expect(run.ran, `too few cases ran in the time budget; ${replay}`).to.be.at.least(only === undefined ? Math.min(COUNT, 500) : 1);
    accepted.set(await expectSameProcessServing(fe), '');
    await expectNothingLeft(replay);
  });

  it(`/api/v1/submissions (one upload, two engines) under the same bodies: 4xx JSON or a clean close, nothing behind (seed ${SEED})`, async () => {
    const replay = `replay with MENAGERIE_FUZZ_SEED=${SEED}`;
    const run = await fuzz([COUNT, COUNT + Math.ceil(COUNT / 3)], SUBMISSIONS, BUDGET_MS / 3);
    expect(run.failures, `${run.failures.length} cases broke the rule; ${replay}:\n${run.failures.slice(0, 15).join('\n')}`).to.deep.equal([]);
    expect(run.ran, `too few cases ran in the time budget; ${replay}`).to.be.at.least(Math.min(COUNT, 150));
    accepted.set(await expectSameProcessServing(fe), '');
    await expectNothingLeft(replay);
  });

  /** Runs cases `from`..`to` (PARALLEL at a time, within the time budget) and judges each outcome. */
  async function fuzz([from, to]: [number, number], target: Target, budgetMs: number): Promise<{ ran: number; failures: string[] }> {
    const started = Date.now();
    const failures: string[] = [];
    const tally = new Map<string, number>();
    let next = from;
    const runCase = async (i: number): Promise<void> => {
      const c: FuzzCase = makeCase(new Rng(SEED ^ Math.imul(i + 1, 0x9e3779b1)), target.path, LIMIT);
      const out = await rawRequest(fe.port, c.request);
      const key = out.kind === 'response' ? String(out.status) : out.kind;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      const problem = judge(out, target.okStatus) ?? (out.kind === 'response' && out.status === target.okStatus ? await judgeAccepted(c, out.body, target) : undefined);
      if (out.kind === 'aborted' && c.mayLand) {
        const sha256 = await referenceFile({ ...c, framed: true }, LIMIT);
        if (sha256) for (let k = 0; k < target.jobsPerUpload; k++) unanswered.push(sha256);
      }
      if (problem) failures.push(`case ${i} [${c.label}]: ${problem}`);
    };
    const worker = async (): Promise<void> => {
      while (next <= to && Date.now() - started < budgetMs) await runCase(next++);
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const ran = Math.min(next, to + 1) - from;
    console.log(`      fuzz ${target.path}: seed=${SEED} cases=${ran} in ${((Date.now() - started) / 1000).toFixed(1)}s outcomes=${JSON.stringify(Object.fromEntries(tally))}`);
    return { ran, failures };
  }

  /** An accepted upload must carry its job ids and be for a body the reference parser finds valid. */
  async function judgeAccepted(c: FuzzCase, body: Buffer, target: Target): Promise<string | undefined> {
    const want = await referenceFile(c, LIMIT);
    const json = JSON.parse(body.toString()) as { jobid?: unknown; jobs?: { jobid?: unknown }[] };
    const ids = (json.jobs ?? [json]).map((j) => String(j.jobid ?? ''));
    if (ids.length !== target.jobsPerUpload || !ids.every((id) => /^[1-9][0-9]*$/.test(id))) return `${target.okStatus} without its job ids: ${body.toString()}`;
    if (!want) return `${target.okStatus} (jobs ${ids.join(', ')}) for a body that is not a valid upload`;
    for (const id of ids) accepted.set(id, want);
    return undefined;
  }

  /** No temporary file, only accepted jobs' inputs with the right content, no orphan rows. */
  async function expectNothingLeft(replay: string): Promise<void> {
    let tmp = await tmpFiles(fe);
    for (let k = 0; k < 30 && tmp.length; k++) {
      await sleep(100);
      tmp = await tmpFiles(fe);
    }
    expect(tmp, replay).to.deep.equal([]);
    // Jobs nobody was told about may exist only for valid bodies whose client hung up after sending them.
    const ids = await fe.jobIds();
    for (const id of ids.filter((j) => !accepted.has(j))) {
      const at = unanswered.indexOf(await sha256Of(id));
      expect(at, `job ${id} was never answered and is no valid unanswered upload; ${replay}`).to.be.at.least(0);
      unanswered.splice(at, 1);
      // Known from now on: a later check must not look for its upload again.
      accepted.set(id, '');
    }
    expect(ids, replay).to.include.members([...accepted.keys()]);
    expect(await fe.storeFiles(), replay).to.deep.equal(ids.map((id) => `${id}/input`).sort());
    for (const [id, sha256] of accepted) if (sha256) expect(await sha256Of(id), `job ${id}; ${replay}`).to.equal(sha256);
  }

  async function sha256Of(id: string): Promise<string> {
    return ((await (await fetch(`${fe.url}/jobs/${id}`)).json()) as { sha256: string }).sha256;
  }
});

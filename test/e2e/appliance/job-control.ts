import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { applianceAuth } from '../../support/appliance.js';

// The API v1 job control on the provisioned appliance (as test/e2e/appliance.test.ts leaves
// it), with the installer's admin token and the shipped engines: submissions to several
// engines, idempotency keys, the result cache (md5 has `cache: true`), retry, cancel of a
// waiting job, the listing's filters and cursor, and a callback outside the allowed prefixes.

const api = 'http://127.0.0.1:8100';
const MD5_HELLO = 'b1946ac92492d2347c6235b4d2611184\n';

interface Record { jobid: string; engine: string; status: string; reason: string; cached: boolean; retryOf: string | null; started: string | null; sha256: string }

/** Job control on the provisioned appliance (registered by appliance.test.ts after provisioning). */
export function jobControlChecks(): void {
  describe('e2e: API v1 job control on the provisioned appliance', function () {
    this.timeout(300_000);
    let auth: { [k: string]: string } = {};

    const send = async (path: string, body: string | undefined, headers: { [k: string]: string } = {}, method = 'POST'): Promise<{ status: number; json: any }> => {
      let form: FormData | undefined;
      if (body !== undefined) {
        form = new FormData();
        form.append('upload', new Blob([body]), 'sample.bin');
      }
      const res = await fetch(`${api}${path}`, { method, body: form, headers: { ...auth, ...headers } });
      return { status: res.status, json: await res.json() };
    };
    const record = async (id: string): Promise<Record> => (await fetch(`${api}/api/v1/jobs/${id}`, { headers: auth })).json() as Promise<Record>;
    const done = async (id: string, ms = 120_000): Promise<Record> => {
      const until = Date.now() + ms;
      for (;;) {
        const r = await record(id);
        if (r.status === 'Success' || r.status === 'Fail') return r;
        if (Date.now() > until) throw new Error(`job ${id} still ${r.status} after ${ms} ms`);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    };
    const result = async (id: string): Promise<string> => (await fetch(`${api}/api/v1/jobs/${id}/result`, { headers: auth })).text();

    before(() => {
      auth = applianceAuth();
    });

    it('one upload to two engines: a job each, both run (md5 and triage agree on the file)', async () => {
      const body = `submission ${randomBytes(8).toString('hex')}\n`;
      const r = await send('/api/v1/submissions?engines=md5,triage&force=1', body);
      expect(r.status, JSON.stringify(r.json)).to.equal(201);
      const jobs = r.json.jobs as { engine: string; jobid: string }[];
      expect(jobs.map((j) => j.engine)).to.deep.equal(['md5', 'triage']);
      const [md5, triage] = await Promise.all(jobs.map((j) => done(j.jobid)));
      expect(md5, JSON.stringify(md5)).to.include({ status: 'Success' });
      expect(triage, JSON.stringify(triage)).to.include({ status: 'Success' });
      expect(await result(md5!.jobid)).to.equal(`${createHash('md5').update(body).digest('hex')}\n`);
      const report = JSON.parse(await result(triage!.jobid)) as { sha256: string; md5: string };
      expect(report.sha256).to.equal(createHash('sha256').update(body).digest('hex'));
      expect(`${report.md5}\n`).to.equal(await result(md5!.jobid));
    });

    it('an Idempotency-Key answers a repeated upload with the same job; the same key on another body is 409', async () => {
      const key = `appliance-${randomBytes(6).toString('hex')}`;
      const body = `idempotent ${key}\n`;
      const first = await send('/md5/upload?force=1', body, { 'idempotency-key': key });
      const again = await send('/md5/upload?force=1', body, { 'idempotency-key': key });
      expect([first.status, again.status]).to.deep.equal([200, 200]);
      expect(again.json.jobid).to.equal(first.json.jobid);
      const other = await send('/md5/upload?force=1', `${body}!`, { 'idempotency-key': key });
      expect([other.status, other.json.error?.code]).to.deep.equal([409, 'IDEMPOTENCY_KEY_REUSED']);
      expect((await done(first.json.jobid)).status).to.equal('Success');
    });

    it('the result cache answers the same file on the same md5 image at once; force=1 and retry run it again', async () => {
      const body = 'hello\n';
      const warm = await send('/md5/upload', body);
      expect(warm.status).to.equal(200);
      expect((await done(warm.json.jobid)).status).to.equal('Success');
      const cached = await send('/md5/upload', body);
      const hit = await record(cached.json.jobid);
      expect(hit, 'finished when the upload is answered').to.include({ status: 'Success', cached: true, started: null });
      expect(await result(hit.jobid)).to.equal(MD5_HELLO);
      const forced = await send('/md5/upload?force=1', body);
      expect((await record(forced.json.jobid)).cached).to.equal(false);
      expect(await done(forced.json.jobid)).to.include({ status: 'Success', cached: false });
      const retried = await send(`/api/v1/jobs/${forced.json.jobid}/retry`, undefined);
      expect(retried.status, JSON.stringify(retried.json)).to.equal(201);
      const retry = await done(retried.json.jobid);
      expect(retry).to.include({ status: 'Success', retryOf: forced.json.jobid, cached: false });
      expect(await result(retry.jobid)).to.equal(MD5_HELLO);
    });

    it('a job waiting behind others is cancelled: it fails with "cancelled" and never starts; a finished job is 409', async () => {
      // md5 has two slots: the last of twenty uploads waits behind the others for seconds.
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await send('/md5/upload?force=1', `queue ${i} ${randomBytes(6).toString('hex')}`)).json.jobid as string);
      const last = ids[ids.length - 1]!;
      const cancel = await send(`/api/v1/jobs/${last}/cancel`, undefined);
      expect(cancel.status, JSON.stringify(cancel.json)).to.equal(200);
      expect(cancel.json).to.include({ status: 'Fail', reason: 'cancelled' });
      const others = await Promise.all(ids.slice(0, -1).map((id) => done(id)));
      expect(others.map((r) => r.status)).to.deep.equal(others.map(() => 'Success'));
      expect(await record(last)).to.include({ status: 'Fail', reason: 'cancelled', started: null });
      const again = await send(`/api/v1/jobs/${ids[0]}/cancel`, undefined);
      expect([again.status, again.json.error?.code]).to.deep.equal([409, 'JOB_FINISHED']);
    });

    it('the listing filters by engine and sha256 and pages with a stable cursor', async () => {
      const body = `listing ${randomBytes(8).toString('hex')}\n`;
      const sha = createHash('sha256').update(body).digest('hex');
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await send('/md5/upload?force=1', body)).json.jobid as string);
      const page1 = await (await fetch(`${api}/api/v1/jobs?engine=md5&sha256=${sha}&limit=2`, { headers: auth })).json() as { jobs: Record[]; next: string | null };
      expect(page1.jobs.map((j) => j.jobid)).to.deep.equal([ids[2], ids[1]]);
      expect(page1.next).to.be.a('string');
      const page2 = await (await fetch(`${api}/api/v1/jobs?engine=md5&sha256=${sha}&limit=2&cursor=${encodeURIComponent(page1.next!)}`, { headers: auth })).json() as { jobs: Record[]; next: string | null };
      expect(page2.jobs.map((j) => j.jobid)).to.deep.equal([ids[0]]);
      expect(page2.next).to.equal(null);
      const bad = await fetch(`${api}/api/v1/jobs?engine=md5&limit=0`, { headers: auth });
      expect(bad.status).to.equal(400);
      for (const id of ids) await done(id);
    });

    it('a callback outside webhooks.allowedPrefixes is refused before anything is stored', async () => {
      const r = await send(`/md5/upload?callback=${encodeURIComponent('http://169.254.169.254/latest/meta-data')}`, 'x');
      expect([r.status, r.json.error?.code]).to.deep.equal([400, 'INVALID_CALLBACK']);
    });
  });
}

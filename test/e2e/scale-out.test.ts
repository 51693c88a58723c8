import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrontendClient } from '../../src/menage/frontend-client.js';
import { BrokerConnection } from '../../src/queue/connection.js';
import { Cluster, type JobRow } from '../support/scale-out-cluster.js';
import { makePki } from '../support/test-pki.js';
import { testEngine } from '../support/services.js';
import { bearer } from '../support/stack.js';

const LEASE_S = 3;
const GRACE_S = 5;
const JOB_S = 3;
const ENGINES = [testEngine('slow', { cmd: ['/engine/slowcopy', String(JOB_S)], workers: 2 })];

/** Jobs per node, as "node-0=3 node-1=5". */
function perNode(rows: JobRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.worker ?? '(none)'] = (out[r.worker ?? '(none)'] ?? 0) + 1;
  return out;
}
const show = (counts: Record<string, number>): string => Object.entries(counts).sort().map(([k, v]) => `${k}=${v}`).join(' ');
const allSuccess = (rows: JobRow[]): JobRow[] => rows.filter((r) => r.status !== 'Success');

/**
 * Issue 22: worker nodes as separate hosts. Two menage processes, each in its own network
 * namespace with its own worker token and name, reach the frontend's internal API (HTTPS)
 * and RabbitMQ (AMQPS) only through TLS on a test address, and share the queues.
 */
describe('e2e: scale-out: menage nodes in their own network namespaces, over TLS', function () {
  this.timeout(600_000);
  const cluster = new Cluster();
  let node0Held: string[] = [];

  before(async function () {
    this.timeout(240_000);
    await cluster.start({ engines: ENGINES, nodes: 2, jobs: { leaseSeconds: LEASE_S, reapGraceSeconds: GRACE_S, maxAttempts: 6 } });
  });
  after(async function () {
    this.timeout(120_000);
    await cluster.close();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(cluster.outputs());
  });

  it('the nodes reach the frontend and the broker only through TLS with the CA: another CA is refused', async () => {
    const svc = cluster.net?.serviceAddress ?? '';
    const internal = new URL(cluster.frontend?.proc.output.match(/internal API on (https:\/\/[^\s",]+)/)?.[1] ?? 'https://missing');
    expect(internal.hostname).to.equal(svc);
    const other = makePki(join(cluster.dir, 'other-pki'), { ips: [svc] });
    const token = JSON.parse(await readFile(cluster.nodes[0]?.config ?? '', 'utf8')).menage.token as string;
    const trusting = new FrontendClient(internal.href, token, { ca: await readFile(cluster.pki?.ca ?? '') });
    const wrongCa = new FrontendClient(internal.href, token, { ca: await readFile(other.ca) });
    try {
      expect(await trusting.health()).to.deep.equal({ status: 'ok' });
      const refused = await wrongCa.health().then(() => 'answered', (e: Error) => e.message);
      expect(refused).to.match(/certificate/);
      const plain = await fetch(internal.href.replace('https:', 'http:') + 'internal/health', { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (e: Error) => e.message);
      expect(plain, 'plain HTTP on the TLS listener').to.not.equal(200);
    } finally {
      trusting.close();
      wrongCa.close();
    }
    const amqps = `amqps://guest:guest@${svc}:${cluster.rabbit?.tlsPort}`;
    const bad = new BrokerConnection(amqps, { ca: await readFile(other.ca) });
    const good = new BrokerConnection(amqps, { ca: await readFile(cluster.pki?.ca ?? '') });
    try {
      expect(await bad.get().then(() => 'connected', (e: Error) => e.message)).to.match(/certificate/);
      await good.get();
      expect(good.connected).to.equal(true);
    } finally {
      await bad.close();
      await good.close();
    }
  });

  it('jobs spread across the nodes, each recorded under the node that ran it; two frontends share the store', async () => {
    // Uploads alternate between two frontends on one database, store and broker (a load balancer).
    const ids = await cluster.submit('slow', 8, 'spread', 'both');
    const rows = await cluster.waitTerminal(ids, 120_000);
    const counts = perNode(rows);
    console.log(`      scale-out: jobs per node: ${show(counts)}`);
    expect(allSuccess(rows), 'jobs not Success').to.deep.equal([]);
    for (const n of cluster.nodes) expect(counts[n.name] ?? 0, `jobs on ${n.name}`).to.be.greaterThan(0);
    // Each result read through the frontend the job was not uploaded to: the same bytes.
    for (const [i, id] of ids.entries()) {
      const other = i % 2 === 0 ? cluster.frontend2Url : cluster.frontend?.url;
      const res = await fetch(`${other}/link/${id}`, { headers: bearer(cluster.submitToken), signal: AbortSignal.timeout(10_000) });
      expect(res.status, `job ${id} through the other frontend`).to.equal(200);
      expect(await res.text()).to.match(new RegExp(`^spread ${i} [0-9a-f]{8}$`));
    }
  });

  it(`a node killed (SIGKILL) mid-job loses nothing: its jobs finish on the other within lease + grace`, async () => {
    const [node0, node1] = cluster.nodes;
    if (!node0 || !node1) throw new Error('two nodes expected');
    const ids = await cluster.submit('slow', 6, 'kill');
    const held = await cluster.waitFor(ids, (rows) => rows.some((r) => r.status === 'Running' && r.worker === node0.name), 'node-0 running a job', 60_000, 100);
    node0Held = held.filter((r) => r.status === 'Running' && r.worker === node0.name).map((r) => r.id);
    await node0.proc.stop('SIGKILL');
    const killedAt = Date.now();
    const restarted = await cluster.waitFor(node0Held, (rows) => rows.every((r) => r.worker === node1.name), 'held jobs taken over', (LEASE_S + GRACE_S + 10) * 1000, 100);
    const takeoverMs = Date.now() - killedAt;
    const rows = await cluster.waitTerminal(ids, 120_000);
    const recoverMs = Date.now() - killedAt;
    console.log(`      scale-out: killed ${node0.name} holding ${node0Held.length} job(s); taken over by ${node1.name} after ${(takeoverMs / 1000).toFixed(1)} s, ` +
      `all done ${(recoverMs / 1000).toFixed(1)} s after the kill (lease ${LEASE_S} s + grace ${GRACE_S} s, job ${JOB_S} s); jobs per node: ${show(perNode(rows))}`);
    expect(restarted.length).to.equal(node0Held.length);
    expect(allSuccess(rows), 'jobs not Success').to.deep.equal([]);
    expect(rows.filter((r) => node0Held.includes(r.id)).map((r) => r.worker)).to.satisfy((w: string[]) => w.every((x) => x === node1.name));
    expect(takeoverMs, 'take-over within lease + grace').to.be.below((LEASE_S + GRACE_S) * 1000);
  });

  it('the killed node comes back, rejoins and takes jobs', async () => {
    const node0 = cluster.nodes[0];
    if (!node0) throw new Error('node expected');
    await node0.proc.start(/menage running/, 60_000);
    const ids = await cluster.submit('slow', 8, 'rejoin');
    const rows = await cluster.waitTerminal(ids, 120_000);
    console.log(`      scale-out: after ${node0.name} rejoined: jobs per node: ${show(perNode(rows))}`);
    expect(allSuccess(rows), 'jobs not Success').to.deep.equal([]);
    expect(perNode(rows)[node0.name] ?? 0, `jobs on the rejoined ${node0.name}`).to.be.greaterThan(0);
  });

  it('a revoked node token stops that node: 401, no more jobs, the jobs it held are finished by the other', async () => {
    const [node0, node1] = cluster.nodes;
    if (!node0 || !node1) throw new Error('two nodes expected');
    const ids = await cluster.submit('slow', 6, 'revoke');
    const held = await cluster.waitFor(ids, (rows) => rows.some((r) => r.status === 'Running' && r.worker === node1.name), 'node-1 running a job', 60_000, 100);
    const heldIds = held.filter((r) => r.status === 'Running' && r.worker === node1.name).map((r) => r.id);
    const mark = node1.proc.output.length;
    await cluster.revoke(node1);
    const revokedAt = Date.now();
    for (let i = 0; i < 100 && !/\(401\)/.test(node1.proc.output.slice(mark)); i++) await sleep(100);
    expect(node1.proc.output.slice(mark), `${node1.name} told it is refused`).to.match(/refused this node's token \(401\)/);
    const later = await cluster.submit('slow', 4, 'after-revoke');
    const rows = await cluster.waitTerminal([...ids, ...later], 180_000);
    const recoverMs = Date.now() - revokedAt;
    console.log(`      scale-out: revoked ${node1.name} holding ${heldIds.length} job(s); all ${rows.length} jobs done ${(recoverMs / 1000).toFixed(1)} s later; ` +
      `jobs per node: ${show(perNode(rows))}`);
    expect(allSuccess(rows), 'jobs not Success').to.deep.equal([]);
    expect(rows.filter((r) => heldIds.includes(r.id) || later.includes(r.id)).filter((r) => r.worker !== node0.name), 'jobs left on the revoked node').to.deep.equal([]);
    expect(node1.proc.running, 'the revoked node waits, it does not crash').to.equal(true);
    expect(node1.proc.output.slice(mark)).to.match(/circuit open: frontend/);
  });

  it('no container of the deployment is left behind (the survivors sweep the dead node\'s)', async () => {
    let left: string[] = [];
    for (let i = 0; i < 90; i++) {
      left = await cluster.containers();
      if (left.length === 0) break;
      await sleep(1000);
    }
    expect(left).to.deep.equal([]);
    expect(node0Held.length, 'the kill test caught node-0 mid-job').to.be.greaterThan(0);
  });
});

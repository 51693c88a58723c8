import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One simulated host: a network namespace joined to this one by a veth pair. */
export interface TestHost {
  /** The namespace's name (`ip netns exec NAME ...`). */
  ns: string;
  /** The host's address inside its namespace. */
  address: string;
  /** The command prefix that runs a program in the namespace (it execs the program). */
  exec: string[];
}

const PREFIX = 'mtso';

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed: ${r.error?.message ?? ''} ${r.stderr}`);
  return r.stdout ?? '';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Hosts for a scale-out test on one machine: each in its own network namespace with a /30
 * to this namespace, and one service address (a /32 on a port-less bridge here: some kernels lack dummy devices) that every
 * host reaches through its veth, where the test binds the "frontend host's" listeners.
 * Names carry this process's pid, so a later run removes what a killed run left behind.
 */
export class TestNetwork {
  readonly serviceAddress: string;
  readonly hosts: TestHost[] = [];
  readonly #tag: string;
  readonly #svcDev: string;
  readonly #octet: number;

  private constructor(octet: number) {
    const rand = randomBytes(3).toString('hex');
    this.#tag = `${PREFIX}-${process.pid}-${rand}`;
    this.#svcDev = `mso${rand}d`;
    this.#octet = octet;
    this.serviceAddress = `10.213.${octet}.253`;
  }

  /** Makes `count` hosts (at most 60); any failure removes what was made. */
  static create(count: number): TestNetwork {
    if (process.getuid?.() !== 0) throw new Error('the scale-out test needs root (ip netns, veth pairs): run it through test/run');
    sweepLeftovers();
    const net = new TestNetwork(freeOctet());
    try {
      ip(['link', 'add', net.#svcDev, 'type', 'bridge']);
      ip(['link', 'set', 'dev', net.#svcDev, 'alias', net.#tag]);
      ip(['addr', 'add', `${net.serviceAddress}/32`, 'dev', net.#svcDev]);
      ip(['link', 'set', net.#svcDev, 'up']);
      for (let i = 0; i < count; i++) net.#addHost(i);
      return net;
    } catch (err) {
      net.destroy();
      throw err;
    }
  }

  #addHost(i: number): void {
    const ns = `${this.#tag}-${i}`;
    const outside = `${this.#svcDev.slice(0, -1)}${i}h`;
    const inside = `${this.#svcDev.slice(0, -1)}${i}n`;
    const [gw, address] = [`10.213.${this.#octet}.${4 * i + 1}`, `10.213.${this.#octet}.${4 * i + 2}`];
    ip(['netns', 'add', ns]);
    this.hosts.push({ ns, address, exec: ['ip', 'netns', 'exec', ns] });
    ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
    ip(['link', 'set', inside, 'netns', ns]);
    ip(['addr', 'add', `${gw}/30`, 'dev', outside]);
    ip(['link', 'set', outside, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'addr', 'add', `${address}/30`, 'dev', inside]);
    ip(['-n', ns, 'link', 'set', inside, 'up']);
    // Only the service address is routed: the host reaches nothing else of this machine.
    ip(['-n', ns, 'route', 'add', `${this.serviceAddress}/32`, 'via', gw]);
  }

  /** Removes the namespaces (their veth pairs go with them) and the service bridge. Idempotent. */
  destroy(): void {
    for (const h of this.hosts) ip(['netns', 'del', h.ns], true);
    ip(['link', 'del', this.#svcDev], true);
  }
}

/** A third octet of 10.213.0.0/16 no address or route of this machine uses. */
function freeOctet(): number {
  const used = `${ip(['-4', '-o', 'addr'])}\n${ip(['-4', 'route', 'show', 'table', 'all'], true)}`;
  for (let tries = 0; tries < 200; tries++) {
    const octet = 20 + Math.floor(Math.random() * 230);
    if (!used.includes(`10.213.${octet}.`)) return octet;
  }
  throw new Error('no free 10.213.x.0/24 for the test network');
}

/** Removes namespaces and service bridges of test runs whose process is gone. */
function sweepLeftovers(): void {
  const re = new RegExp(`^${PREFIX}-(\\d+)-[0-9a-f]+`);
  for (const line of ip(['netns', 'list'], true).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = re.exec(name);
    if (m && !alive(Number(m[1]))) ip(['netns', 'del', name], true);
  }
  for (const block of ip(['-o', 'link', 'show', 'type', 'bridge'], true).split('\n')) {
    const dev = /^\d+: (mso[0-9a-f]{6}d)[:@]/.exec(block)?.[1];
    const owner = / alias (mtso-(\d+)-)/.exec(block)?.[2];
    if (dev && owner && !alive(Number(owner))) ip(['link', 'del', dev], true);
  }
}

import type { RunningEnforcer } from '../../../src/enforcer.js';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { parseEnforcerConfig, type EnforcerConfig } from '../../../src/enforcer/config.js';

/** The only image tests use (built locally by engines/build). */
export const IMAGE = 'menagerie/busybox:latest';
/** The label every test container carries; KILL rules and modes are scoped to its value. */
export const TEST_LABEL = 'org.menagerie.test';
/** Containers carrying this label (with the run's value) are in KILL mode. */
export const KILL_LABEL = 'org.menagerie.test.kill';

/** A fresh random id for one test. */
export function newRun(): string {
  return randomBytes(6).toString('hex');
}

/** Fails with a clear message when the Docker engine or the test image is missing. */
export async function requireDocker(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`the Docker engine is not reachable (${(err as Error).message}); start dockerd (test/run does)`);
  }
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    throw new Error(`image ${IMAGE} is missing: run engines/build`);
  }
}

/** Creates and tracks test containers; removeAll() removes only those it created. */
export class TestContainers {
  private readonly ids: string[] = [];

  constructor(readonly docker: Docker, readonly run: string) {}

  /** Creates and starts a busybox container named enf-test-<run>-<suffix> (or the given name). */
  async start(suffix: string, opts: { kill?: boolean; labels?: Record<string, string>; host?: Docker.HostConfig; cmd?: string[]; name?: string } = {}): Promise<Docker.Container> {
    const c = await this.docker.createContainer({
      name: opts.name ?? `enf-test-${this.run}-${suffix}`,
      Image: IMAGE,
      Cmd: opts.cmd ?? ['sleep', '120'],
      Labels: { [TEST_LABEL]: this.run, ...(opts.kill ? { [KILL_LABEL]: this.run } : {}), ...opts.labels },
      HostConfig: { NetworkMode: 'none', ...opts.host },
    });
    this.ids.push(c.id);
    await c.start();
    return c;
  }

  /** Creates and starts a container from full create options (tracked for removal). */
  async startSpec(options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    const c = await this.docker.createContainer(options);
    this.ids.push(c.id);
    await c.start();
    return c;
  }

  /** True when the container is running. */
  async running(c: Docker.Container): Promise<boolean> {
    return (await c.inspect()).State.Running;
  }

  /** Removes every container this instance created. */
  async removeAll(): Promise<void> {
    await Promise.all(this.ids.splice(0).map((id) => this.docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined)));
  }
}

/** What one enforcer test works with: its run id, its containers, the enforcer under test. */
export interface EnforcerTest {
  run: string;
  containers: TestContainers;
  enforcer: RunningEnforcer | undefined;
}

/**
 * Registers the usual hooks of an enforcer test suite: Docker must answer; every test gets
 * a fresh run id and container set; afterwards its enforcer is closed and its containers go.
 */
export function useEnforcerTest(docker: Docker): EnforcerTest {
  const t = { run: '', containers: undefined as unknown as TestContainers, enforcer: undefined } as EnforcerTest;
  before(() => requireDocker(docker));
  beforeEach(() => {
    t.run = newRun();
    t.containers = new TestContainers(docker, t.run);
  });
  afterEach(async () => {
    await t.enforcer?.close();
    t.enforcer = undefined;
    await t.containers.removeAll();
  });
  return t;
}

/** A temporary folder removed when the test process exits. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'enf-test-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a rules file and returns a validated config using it, scoped to this run. */
export function testConfig(run: string, rules: unknown, over: Record<string, unknown> = {}): EnforcerConfig {
  const dir = tempDir();
  writeFileSync(join(dir, 'rules.json'), JSON.stringify(rules));
  const raw = {
    rulesFile: 'rules.json',
    mode: { default: 'warn', overrides: [{ label: KILL_LABEL, value: run, mode: 'kill' }] },
    api: { listen: { host: '127.0.0.1', port: 0 } },
    actionTimeoutSeconds: 10,
    ...over,
  };
  return parseEnforcerConfig(raw, join(dir, 'config.json'));
}

/** A condition true only for this run's containers: every test rule is and-ed with it. */
export function mine(run: string, condition: unknown): unknown {
  return { and: [{ field: `container.labels.${TEST_LABEL}`, op: 'eq', value: run }, condition] };
}

/** A request seen by a Recorder. */
export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
  readonly extra?: unknown;
}

/** A tiny local HTTP server recording every request (a stand-in for the frontend or a webhook). */
export class Recorder {
  readonly requests: Recorded[] = [];
  private server: Server | undefined;
  url = '';

  /** `onRequest` says what to note with a request; `answer`, the JSON to answer it with. */
  constructor(private readonly onRequest: (r: Recorded) => Promise<unknown> = async () => undefined,
    private readonly answer: (r: Recorded) => unknown = () => ({})) {}

  /** Starts listening on a loopback port. */
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
        void this.onRequest(r).then((extra) => {
          this.requests.push({ ...r, extra });
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.answer(r)));
        });
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
    this.server = undefined;
  }
}

/** Polls until fn returns a truthy value or the timeout passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

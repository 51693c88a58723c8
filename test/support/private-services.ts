import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitPort(port: number, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Signals a child and waits for its exit; SIGKILL after 20 s. */
async function stopChild(p: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((resolve) => p.once('exit', resolve));
  p.kill(signal);
  const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function runOk(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? ''} ${r.stderr}`);
}

/**
 * A private MariaDB server (own data dir and port, grant tables off) that fault tests may
 * kill and restart without disturbing anything else on the machine.
 */
export class PrivateMariaDB {
  readonly dir: string;
  port = 0;
  #proc: ChildProcess | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  async start(): Promise<void> {
    if (!this.port) {
      this.port = await freePort();
      await mkdir(this.dir, { recursive: true });
      runOk('mariadb-install-db', [`--datadir=${join(this.dir, 'data')}`, '--auth-root-authentication-method=normal',
        '--skip-test-db', '--user=mysql']);
      runOk('chown', ['-R', 'mysql:mysql', this.dir]);
    }
    this.#proc = spawn('/usr/sbin/mariadbd', ['--no-defaults', `--datadir=${join(this.dir, 'data')}`,
      `--socket=${join(this.dir, 'sock')}`, `--port=${this.port}`, '--bind-address=127.0.0.1', '--user=mysql',
      `--pid-file=${join(this.dir, 'pid')}`, '--skip-grant-tables', '--skip-name-resolve', '--innodb-buffer-pool-size=32M'],
    { stdio: 'ignore' });
    await waitPort(this.port, 'private MariaDB');
  }

  /** Stops the server: SIGKILL for a crash, SIGTERM for a clean shutdown. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopChild(this.#proc, signal);
    this.#proc = undefined;
  }

  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open but nothing answers. */
  freeze(frozen: boolean): void {
    this.#proc?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  async destroy(): Promise<void> {
    this.freeze(false);
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A TLS listener for a private RabbitMQ: address and PEM files. */
export interface PrivateRabbitTls {
  host: string;
  ca: string;
  cert: string;
  key: string;
}

/**
 * A private RabbitMQ node (own name, ports and data) for fault tests: it can be killed,
 * restarted or given a short consumer timeout. Durable queues and persistent messages
 * survive its restarts, as on a real broker.
 */
export class PrivateRabbit {
  readonly dir: string;
  readonly node: string;
  port = 0;
  /** The AMQPS port (on `tls.host`) when the node has a TLS listener. */
  tlsPort = 0;
  #distPort = 0;
  #proc: ChildProcess | undefined;
  readonly #consumerTimeoutMs: number | undefined;
  readonly #tls: PrivateRabbitTls | undefined;

  /** `tls`: also listen for AMQPS on `tls.host` with this certificate (PEM files, copied). */
  constructor(dir: string, opts: { consumerTimeoutMs?: number; tls?: PrivateRabbitTls } = {}) {
    this.dir = dir;
    this.node = `mt${process.pid}${Math.floor(Math.random() * 1e6)}@localhost`;
    this.#consumerTimeoutMs = opts.consumerTimeoutMs;
    this.#tls = opts.tls;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) {
      this.port = await freePort();
      this.#distPort = await freePort();
      await mkdir(join(this.dir, 'mnesia'), { recursive: true });
      await mkdir(join(this.dir, 'log'), { recursive: true });
      await writeFile(join(this.dir, 'plugins'), '[].\n');
      const conf = [`listeners.tcp.default = 127.0.0.1:${this.port}`, 'loopback_users = none'];
      if (this.#consumerTimeoutMs) conf.push(`consumer_timeout = ${this.#consumerTimeoutMs}`);
      if (this.#tls) conf.push(...(await this.#tlsConf(this.#tls)));
      await writeFile(join(this.dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
      // Checks consumer timeouts every second instead of every minute.
      await writeFile(join(this.dir, 'advanced.config'), '[{rabbit, [{channel_tick_interval, 1000}]}].\n');
      runOk('chown', ['-R', 'rabbitmq:rabbitmq', this.dir]);
    }
    this.#proc = spawn('rabbitmq-server', [], {
      stdio: 'ignore', detached: true,
      env: {
        ...process.env, RABBITMQ_NODENAME: this.node, RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(this.#distPort), RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(this.dir, 'log'), RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'plugins'),
        RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq'), RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
        RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      },
    });
    await waitPort(this.port, 'private RabbitMQ', 90_000);
  }

  /** The TLS listener's settings; the PEM files are copied in, for the rabbitmq user to read. */
  async #tlsConf(tls: PrivateRabbitTls): Promise<string[]> {
    this.tlsPort = await freePort();
    for (const f of ['ca', 'cert', 'key'] as const) await copyFile(tls[f], join(this.dir, `${f}.pem`));
    return [`listeners.ssl.default = ${tls.host}:${this.tlsPort}`, `ssl_options.cacertfile = ${join(this.dir, 'ca.pem')}`,
      `ssl_options.certfile = ${join(this.dir, 'cert.pem')}`, `ssl_options.keyfile = ${join(this.dir, 'key.pem')}`,
      'ssl_options.verify = verify_none', 'ssl_options.fail_if_no_peer_cert = false'];
  }

  /** Kills the node's Erlang VM (a crash) or asks it to stop. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p) return;
    const pid = Number((await readFile(join(this.dir, 'pid'), 'utf8').catch(() => '')).trim());
    if (signal === 'SIGKILL' && pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    } else spawnSync('rabbitmqctl', ['-n', this.node, 'stop'], { stdio: 'ignore' });
    try {
      if (p.pid) process.kill(-p.pid, 'SIGKILL');
    } catch {
      // the process group is gone
    }
    for (let i = 0; i < 100 && (await this.#listening()); i++) await sleep(100);
    spawnSync('pkill', ['-9', '-f', `-sname ${this.node.split('@')[0]}`], { stdio: 'ignore' });
  }

  async #listening(): Promise<boolean> {
    return waitPort(this.port, '', 100).then(() => true, () => false);
  }

  async restart(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    spawnSync('pkill', ['-9', '-f', this.node.split('@')[0] ?? 'none'], { stdio: 'ignore' });
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A private dockerd (own socket, data and exec roots, live-restore on, no bridge) that a
 * fault test may restart mid-job; images are loaded into it from the shared daemon.
 */
export class PrivateDockerd {
  readonly dir: string;
  readonly socket: string;
  readonly #dataRoot: string;
  #proc: ChildProcess | undefined;

  readonly #bridge: string;

  constructor(id: string) {
    this.#bridge = `mtbr${id.slice(0, 8)}`;
    this.dir = `/run/mt-dockerd-${id}`;
    this.socket = `${this.dir}/docker.sock`;
    this.#dataRoot = `/var/lib/mt-dockerd-${id}`;
  }

  async start(): Promise<void> {
    await mkdir(join(this.dir, 'exec'), { recursive: true });
    await writeFile(join(this.dir, 'daemon.json'), JSON.stringify({ 'live-restore': true, 'no-new-privileges': true }));
    ownBridge(this.#bridge);
    this.#proc = spawn('dockerd', ['--config-file', join(this.dir, 'daemon.json'), '-H', `unix://${this.socket}`,
      '--data-root', this.#dataRoot, '--exec-root', join(this.dir, 'exec'), '--pidfile', join(this.dir, 'docker.pid'),
      `--bridge=${this.#bridge}`, '--iptables=false', '--ip-masq=false', '--ip6tables=false'], { stdio: 'ignore' });
    for (let i = 0; i < 120; i++) {
      if (spawnSync('docker', ['-H', `unix://${this.socket}`, 'version'], { stdio: 'ignore' }).status === 0) return;
      if (this.#proc.exitCode !== null) break;
      await sleep(250);
    }
    throw new Error('private dockerd did not start');
  }

  /** Copies images from the shared daemon. */
  loadImages(images: string[]): void {
    runOk('sh', ['-c', `docker save ${images.join(' ')} | docker -H unix://${this.socket} load`]);
  }

  /** Stops dockerd; with live-restore its containers keep running. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopChild(this.#proc, signal);
    this.#proc = undefined;
  }

  async destroy(): Promise<void> {
    spawnSync('sh', ['-c', `docker -H unix://${this.socket} rm -f $(docker -H unix://${this.socket} ps -aq) 2>/dev/null`], { stdio: 'ignore' });
    await this.stop();
    spawnSync('sh', ['-c', `grep -o ' ${this.#dataRoot}[^ ]*\\| ${this.dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
    await rm(this.#dataRoot, { recursive: true, force: true });
    await rm(this.dir, { recursive: true, force: true });
    spawnSync('ip', ['link', 'del', this.#bridge], { stdio: 'ignore' });
  }
}

/**
 * Creates a bridge for a private dockerd. Its own bridge, not `--bridge=none`: with none,
 * dockerd deletes the host's docker0 interface, which the shared daemon still uses.
 */
export function ownBridge(name: string): void {
  if (spawnSync('ip', ['link', 'show', name], { stdio: 'ignore' }).status === 0) return;
  runOk('ip', ['link', 'add', name, 'type', 'bridge']);
  runOk('ip', ['addr', 'add', `10.213.${Math.floor(Math.random() * 250) + 1}.1/24`, 'dev', name]);
  runOk('ip', ['link', 'set', name, 'up']);
}

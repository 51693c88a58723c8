import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { ownBridge } from '../../support/private-services.js';

const run = promisify(execFile);

/** Result of one docker CLI call. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A second, private dockerd (own socket, data root, exec root, empty daemon.json, no bridge,
 * no iptables) using an AuthZ plugin, so the shared daemon is never reconfigured.
 */
export class PrivateDaemon {
  readonly dir: string;
  readonly dataRoot: string;
  readonly socket: string;
  readonly specFile: string;
  /** Its own bridge: with `--bridge=none` dockerd would delete the shared daemon's docker0. */
  readonly bridge: string;
  private proc: ChildProcess | undefined;

  constructor(readonly id: string, readonly pluginName: string) {
    this.dir = `/run/enf-test-${id}`;
    this.dataRoot = `/var/lib/enf-test-docker-${id}`;
    this.socket = `${this.dir}/docker.sock`;
    this.specFile = `/etc/docker/plugins/${pluginName}.spec`;
    this.bridge = `enfbr${id.replace(/[^a-z0-9]/g, '').slice(0, 8)}`;
  }

  /** Writes the plugin spec, starts dockerd and waits until it answers. */
  async start(pluginUrl: string): Promise<void> {
    mkdirSync('/etc/docker/plugins', { recursive: true });
    writeFileSync(this.specFile, `${pluginUrl}\n`);
    mkdirSync(`${this.dir}/exec`, { recursive: true });
    writeFileSync(`${this.dir}/daemon.json`, '{}\n');
    ownBridge(this.bridge);
    const log = openSync(`${this.dir}/dockerd.log`, 'w');
    this.proc = spawn('dockerd', [
      '--config-file', `${this.dir}/daemon.json`, '-H', `unix://${this.socket}`, '--data-root', this.dataRoot,
      '--exec-root', `${this.dir}/exec`, '--pidfile', `${this.dir}/docker.pid`, `--bridge=${this.bridge}`, '--iptables=false',
      '--ip-masq=false', '--ip6tables=false', `--authorization-plugin=${this.pluginName}`,
    ], { stdio: ['ignore', log, log] });
    closeSync(log);
    const deadline = Date.now() + 30_000;
    while ((await this.cli(['version', '--format', '{{.Server.Version}}'])).code !== 0) {
      if (this.proc.exitCode !== null || Date.now() > deadline) throw new Error(`private dockerd did not start:\n${this.log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Loads an image from the shared daemon into this one. */
  async loadImage(image: string): Promise<void> {
    await run('sh', ['-c', `docker save '${image}' | docker -H 'unix://${this.socket}' load`], { maxBuffer: 1 << 24 });
  }

  /** Runs the docker CLI against this daemon; never throws on a non-zero exit. */
  async cli(args: string[]): Promise<CliResult> {
    try {
      const { stdout, stderr } = await run('docker', ['-H', `unix://${this.socket}`, ...args], { timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
    }
  }

  /** The daemon's log so far. */
  log(): string {
    try {
      return readFileSync(`${this.dir}/dockerd.log`, 'utf8');
    } catch {
      return '';
    }
  }

  /** Stops dockerd (it stops its containers) and removes its spec file and folders. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.specFile, { force: true });
    await run('sh', ['-c', `grep -o ' ${this.dataRoot}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => undefined);
    rmSync(this.dataRoot, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
    await run('ip', ['link', 'del', this.bridge]).catch(() => undefined);
  }
}

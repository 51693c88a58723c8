import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** One `menagerie <command>` child process, as the appliance runs it. */
export class CliProcess {
  readonly command: string;
  readonly config: string;
  output = '';
  #proc: ChildProcess | undefined;
  readonly #wrap: string[];
  readonly #nodeArgs: string[];

  /**
   * `wrap`: a command to run node under, e.g. `['ip', 'netns', 'exec', NS]` (it must exec node);
   * `nodeArgs`: node's own flags, e.g. `--cpu-prof` (which NODE_OPTIONS does not take).
   */
  constructor(command: string, config: string, wrap: string[] = [], nodeArgs: string[] = []) {
    this.command = command;
    this.config = config;
    this.#wrap = wrap;
    this.#nodeArgs = nodeArgs;
  }

  /** Starts the process and waits until its output matches `ready`. */
  async start(ready: RegExp, timeoutMs = 30_000): Promise<void> {
    const argv = [...this.#wrap, process.execPath, ...this.#nodeArgs, CLI, this.command, '--config', this.config];
    const p = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = p;
    const from = this.output.length;
    const seen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.command} not ready in ${timeoutMs} ms:\n${this.output.slice(from)}`)), timeoutMs);
      // Once ready, output is only kept: testing the pattern against all of it on every chunk
      // costs this process time that grows with the output, and a child whose pipe is not
      // drained blocks on its (synchronous) log writes.
      let waiting = true;
      const onData = (d: Buffer): void => {
        this.output += d.toString();
        if (waiting && ready.test(this.output.slice(from))) {
          waiting = false;
          clearTimeout(timer);
          resolve();
        }
      };
      p.stdout?.on('data', onData);
      p.stderr?.on('data', onData);
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.command} exited with ${code} before it was ready:\n${this.output.slice(from)}`));
      });
    });
    await seen;
  }

  /** Sends a signal and waits for the exit; returns the exit code (null if killed). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<number | null> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** The process id of the running child (undefined when stopped). */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  get running(): boolean {
    return !!this.#proc && this.#proc.exitCode === null && this.#proc.signalCode === null;
  }
}

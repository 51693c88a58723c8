import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { STATUS } from '../contract/ids.js';
import { ApiClient, ClientError, type JobRecord } from './api-client.js';
import { progressBar, statusLine, type Terminal } from './terminal.js';

/** Exit codes: 0 done (job Success), 1 the job failed, 2 usage, connection or API errors. */
export const EXIT = { ok: 0, jobFailed: 1, error: 2 } as const;

/** The usage of the client commands. */
export const CLIENT_HELP = `usage: menagerie <command> [options]      (server: --url or $MENAGERIE_URL, token: --token or $MENAGERIE_TOKEN)

  submit --engine ENGINE FILE [--wait] [--output FILE]   upload FILE; with --wait follow the job to its end
  status ID                                              the job's record
  result ID [-o FILE]                                    the result bytes (a failed job's error text) to FILE or stdout
  jobs [--engine E] [--status S[,S]] [--filename F] [--sha256 H] [--limit N]   newest jobs first
  cancel ID                                              cancel a queued or running job

options: --json (machine-readable output), --url URL, --token TOKEN, --version, -h/--help
exit codes: 0 done (with --wait or status: the job succeeded), 1 the job failed, 2 usage, connection or API error
`;

const OPTIONS = {
  url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, engine: { type: 'string' },
  wait: { type: 'boolean' }, output: { type: 'string', short: 'o' }, status: { type: 'string' }, filename: { type: 'string' },
  sha256: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' }, interval: { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];

/** `submit --wait`: how long each status request waits for the job's end, at most. */
const STATUS_LINE_SECONDS = 10;

function parse(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

/** A usage problem: the message, then the usage. */
export class UsageError extends Error {}

/** Runs one client command; returns the exit code. */
export async function runClientCommand(command: string, args: string[], term: Terminal, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parse(args);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const url = values.url ?? env.MENAGERIE_URL;
  if (!url) throw new UsageError('no server: give --url URL or set MENAGERIE_URL (e.g. http://appliance:8100)');
  const client = new ApiClient(url, values.token ?? env.MENAGERIE_TOKEN);
  const one = (what: string): string => {
    if (positionals.length !== 1) throw new UsageError(`${command} needs exactly one ${what}`);
    return positionals[0]!;
  };
  switch (command) {
    case 'submit': return submit(client, one('FILE'), values, term);
    case 'status': return show(await client.job(one('job id')), values, term);
    case 'result': {
      const bytes = await client.result(one('job id'), values.output ?? '-');
      if (values.output) term.err(`wrote ${bytes} bytes to ${values.output}\n`);
      return EXIT.ok;
    }
    case 'jobs': return list(client, values, positionals, term);
    case 'cancel':
      show(await client.cancel(one('job id')), values, term);
      return EXIT.ok;
    default: throw new UsageError(`unknown command "${command}"`);
  }
}

async function submit(client: ApiClient, file: string, values: Values, term: Terminal): Promise<number> {
  if (!values.engine) throw new UsageError('submit needs --engine ENGINE');
  await checkUpload(client, values.engine, file);
  const bar = progressBar(term);
  const id = await client.submit(values.engine, file, bar.update);
  bar.done();
  if (!values.wait) {
    term.out(values.json ? `${JSON.stringify({ jobid: id })}\n` : `${id}\n`);
    return EXIT.ok;
  }
  const line = statusLine(term);
  const every = Math.max(100, Number(values.interval ?? 1000));
  let job: JobRecord;
  for (;;) {
    // The server holds the answer until the job ends (or the status line is due again).
    const asked = performance.now();
    job = await client.job(id, STATUS_LINE_SECONDS);
    line.update(`job ${id} (${job.engine}): ${job.status}${job.attempts > 1 ? `, attempt ${job.attempts}` : ''}`);
    if (job.status === STATUS.success || job.status === STATUS.fail) break;
    // An early answer without an end (a server that is stopping) is not asked again at once.
    if (performance.now() - asked < every) await sleep(every);
  }
  line.done();
  if (values.output) await client.result(id, values.output);
  return show(job, values, term);
}

/** Refuses before sending a byte what the server would refuse: an unknown engine, a file too large. */
async function checkUpload(client: ApiClient, engine: string, file: string): Promise<void> {
  const { size } = await stat(file);
  const known = (await client.engines()).find((e) => e.name === engine);
  if (!known) throw new ClientError(404, 'UNKNOWN_ENGINE', `no engine named "${engine}"`);
  if (size > known.sizelimit) {
    throw new ClientError(413, 'UPLOAD_TOO_LARGE', `${file} is ${size} bytes, more than the limit of ${known.sizelimit} bytes for engine ${engine}`);
  }
}

function show(job: JobRecord, values: Values, term: Terminal): number {
  if (values.json) term.out(`${JSON.stringify(job)}\n`);
  else {
    const rows: [string, unknown][] = [['job', job.jobid], ['engine', job.engine], ['file', job.filename], ['size', job.size],
      ['sha256', job.sha256], ['status', job.status], ['reason', job.reason || '-'], ['attempts', job.attempts],
      ['created', job.created], ['started', job.started ?? '-'], ['finished', job.finished ?? '-'], ['summary', JSON.stringify(job.summary ?? '')]];
    term.out(rows.map(([k, v]) => `${k.padEnd(9)}${String(v)}`).join('\n') + '\n');
  }
  return job.status === STATUS.fail ? EXIT.jobFailed : EXIT.ok;
}

async function list(client: ApiClient, values: Values, positionals: string[], term: Terminal): Promise<number> {
  if (positionals.length) throw new UsageError('jobs takes no arguments, only filters');
  const query: Record<string, string> = {};
  for (const k of ['engine', 'status', 'filename', 'sha256', 'limit', 'cursor'] as const) if (values[k]) query[k] = values[k]!;
  const page = await client.jobs(query);
  if (values.json) {
    term.out(`${JSON.stringify(page)}\n`);
    return EXIT.ok;
  }
  const rows = [['ID', 'ENGINE', 'STATUS', 'CREATED', 'REASON', 'FILE'],
    ...page.jobs.map((j) => [j.jobid, j.engine, j.status, j.created, j.reason || '-', JSON.stringify(j.filename)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  term.out(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  if (page.next) term.err(`more: --cursor ${page.next}\n`);
  return EXIT.ok;
}

/** Describes a failed command for the user: one line, never a stack trace. */
export function describeFailure(err: unknown): string {
  if (err instanceof UsageError) return `${err.message}\n\n${CLIENT_HELP}`;
  if (err instanceof ClientError) return err.status ? `${err.code} (${err.status}): ${err.message}\n` : `${err.message}\n`;
  return `${(err as Error).message ?? String(err)}\n`;
}

import { parseArgs } from 'node:util';
import { runBurst } from './burst.js';
import { runE2e } from './e2e.js';
import { runReads } from './reads.js';
import { remoteTarget, type Target } from './stack.js';
import { load } from './stats.js';
import { runUpload } from './upload.js';
import { runUploadParts } from './upload-parts.js';
import { loadEngines } from '../src/engines/engines.js';
import type { ConfigProblem } from '../src/errors.js';

const HELP = `usage: bench/run BENCHMARK [options]
  e2e      jobs/s and upload→Success latency vs a raw dockerode loop   --jobs N (40) --slots 1,2,4
  warm     e2e with the engine's warm pool on (2 containers per slot created ahead)  --jobs N (40) --slots 1,2,4
  upload   one large upload: frontend RSS growth, throughput vs cat    --mib N (1024)
  upload-parts  the upload path's stages alone (busboy, sha256, write) --mib N (1024)
  burst    small uploads at a concurrency, then every job terminal     --count N (10000) --concurrency N (32) --drain cancel|run
  reads    /result/<id> and the listing at an offered rate (open loop) --rows N (1000000) --rate N (1000) --seconds N (10)
           --warmup N (2: seconds at the rate before each measured run, reported apart)
Against a running appliance instead of a stack of its own: --url URL --token-file FILE
(default /etc/menagerie/token) --engine NAME, and for e2e/warm --engines-file FILE (its engines.json).
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const { values: v } = parseArgs({
    args: rest,
    options: {
      jobs: { type: 'string' }, slots: { type: 'string' }, mib: { type: 'string' }, count: { type: 'string' },
      concurrency: { type: 'string' }, drain: { type: 'string' }, rows: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' },
      url: { type: 'string' }, 'token-file': { type: 'string' }, engine: { type: 'string' }, 'engines-file': { type: 'string' },
    },
  });
  const int = (x: string | undefined, d: number): number => {
    if (x === undefined) return d;
    if (!/^\d+$/.test(x) || Number(x) < 1) throw new Error(`expected a positive integer, got "${x}"`);
    return Number(x);
  };
  const print = (line: string): void => console.log(`[bench ${name}] ${line}`);
  const remote: Target | undefined = v.url ? await remoteTarget(v.url, v['token-file'] ?? '/etc/menagerie/token') : undefined;
  const engine = v.engine ?? 'md5';
  const started = Date.now();
  print(`load average at start: ${load()}`);
  switch (name) {
    case 'warm':
    case 'e2e': {
      const slots = (v.slots ?? '1,2,4').split(',').map((s) => int(s, 1));
      const remoteEngine = remote ? { target: remote, engine: engineFrom(v['engines-file'], engine) } : undefined;
      // warm: the engine keeps two containers per slot created ahead (engines.json `warm`); on
      // an appliance (--url), its engines.json says whether the engine has a pool.
      const warm = name === 'warm' ? { engineFields: (n: number) => ({ warm: Math.min(16, 2 * n) }) } : {};
      await runE2e({ jobs: int(v.jobs, 40), slots, print, ...warm, ...(remoteEngine ? { remote: remoteEngine } : {}) });
      break;
    }
    case 'upload':
      await runUpload({ mib: int(v.mib, 1024), print, ...(remote ? { remote: { target: remote, engine } } : {}) });
      break;
    case 'upload-parts':
      await runUploadParts({ mib: int(v.mib, 1024), print });
      break;
    case 'burst': {
      const drain = v.drain ?? 'cancel';
      if (drain !== 'cancel' && drain !== 'run') throw new Error(`--drain is cancel or run, not "${drain}"`);
      await runBurst({ count: int(v.count, 10_000), concurrency: int(v.concurrency, 32), drain, print, ...(remote ? { remote: { target: remote, engine } } : {}) });
      break;
    }
    case 'reads':
      await runReads({ rows: int(v.rows, 1_000_000), rate: int(v.rate, 1000), seconds: int(v.seconds, 10),
        warmup: v.warmup === '0' ? 0 : int(v.warmup, 2), print, ...(remote ? { remote } : {}) });
      break;
    default:
      process.stderr.write(HELP);
      return 2;
  }
  print(`load average at end: ${load()} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return 0;
}

/** The engine `name` from a running appliance's engines.json (for the raw loop). */
function engineFrom(file: string | undefined, name: string) {
  if (!file) throw new Error('--engines-file is needed with --url for e2e and warm (the raw loop runs the engine itself)');
  const problems: ConfigProblem[] = [];
  const engine = loadEngines(file, process.env, problems).find((e) => e.name === name);
  if (problems.length || !engine) throw new Error(`${file}: ${problems.map((p) => p.message).join('; ') || `no engine "${name}"`}`);
  return engine;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

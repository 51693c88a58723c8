import type Docker from 'dockerode';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { Engine } from '../../engines/engines.js';
import type { ContainerDispatcher, RunOutcome } from '../runner.js';
import { goldenFromFiles, loadGolden, mismatch, validity, type GoldenCase, type ResultKind } from './golden.js';
import { hostileSet, type HostileSample } from './hostile.js';
import { readOutOfImage } from './image-files.js';

/** The grade of one case of the kit. */
export interface Grade {
  case: string;
  kind: 'golden' | 'hostile';
  /** `result ok`, `failed cleanly`, or what was wrong. */
  outcome: string;
  /** `ok`, or the limit the engine ran into (timeout, memory, result size). */
  limits: string;
  seconds: number;
  pass: boolean;
  detail: string;
}

/** What the kit found for one engine image. */
export interface KitReport {
  engine: string;
  image: string;
  imageId: string;
  grades: Grade[];
  passed: boolean;
}

export interface KitOptions {
  engine: Engine;
  /** The engine's folder (engines/<name>), holding golden/. */
  engineDir: string;
  dispatcher: ContainerDispatcher;
  docker: Docker;
  /** The deployment label of the kit's containers (the dispatcher's), e.g. `menagerie-kit`. */
  deployment: string;
  log?: (line: string) => void;
}

/** Reasons of a run that hit a limit rather than failing by itself (failure-reasons.ts). */
const LIMIT_REASONS = /^(timeout|out of memory|result too large|output not a regular file|killed by policy)/;

/**
 * Runs an engine image against its golden samples (results must match) and the hostile set
 * (each must give a well-formed result or fail cleanly with a reason, within its limits),
 * through the real runner: the same containment as production jobs. Nothing is written to
 * disk: samples stream from memory or are generated as they are sent.
 */
export async function runKit(o: KitOptions): Promise<KitReport> {
  const golden = await goldenOf(o);
  const kind = golden[0]?.result as ResultKind;
  const grades: Grade[] = [];
  let imageId = '';
  let seq = 0;
  const run = async (input: Input): Promise<Ran> => {
    const ran = await runOne(o, input, ++seq);
    imageId ||= String(ran.outcome.containment.imageId ?? '');
    return ran;
  };
  let seed: Buffer | undefined;
  for (const g of golden) {
    const input = await inputOf(o, g);
    seed ??= await input.bytes();
    grades.push(gradeGolden(g, await run(input)));
    o.log?.(`${o.engine.name}: golden ${g.name} done`);
  }
  for (const sample of await hostileSet(o.engine.sizelimit, seed)) {
    grades.push(gradeHostile(sample, kind, await run(sample)));
    o.log?.(`${o.engine.name}: hostile ${sample.case} done`);
  }
  return { engine: o.engine.name, image: o.engine.image, imageId, grades, passed: grades.every((g) => g.pass) };
}

/** A sample to run: its size and a fresh stream of it. */
interface Input { size: number; open: () => Readable }

/**
 * The golden cases: from the engine's folder when there is one (the source tree), else the
 * ones its image carries in /engine/golden (an appliance without the source tree).
 */
async function goldenOf(o: KitOptions): Promise<GoldenCase[]> {
  let golden = await loadGolden(o.engineDir);
  if (golden.length === 0) golden = goldenFromFiles(await readOutOfImage(o.docker, o.engine, o.deployment, '/engine/golden'), `${o.engine.image}:/engine`);
  if (golden.length === 0) throw new Error(`engine "${o.engine.name}" has no golden samples (neither ${join(o.engineDir, 'golden')} nor /engine/golden in its image)`);
  return golden;
}

/** A golden case's input: a file of the source tree, bytes from the image, or a file the image ships ("made from files Debian ships"). */
async function inputOf(o: KitOptions, g: GoldenCase): Promise<Input & { bytes: () => Promise<Buffer> }> {
  if (g.input) {
    const path = g.input;
    const { size } = await stat(path);
    return { size, open: () => createReadStream(path), bytes: () => readFile(path) };
  }
  let data = g.inputData;
  if (!data) {
    const files = await readOutOfImage(o.docker, o.engine, o.deployment, g.fromImage as string);
    data = files.get(posix.basename(g.fromImage as string));
    if (files.size !== 1 || !data) throw new Error(`${o.engine.image} has no file ${g.fromImage}`);
  }
  const held = data;
  return { size: held.length, open: () => Readable.from([held]), bytes: async () => held };
}

interface Ran { outcome: RunOutcome; result?: Buffer; seconds: number }

async function runOne(o: KitOptions, input: Input, seq: number): Promise<Ran> {
  const started = Date.now();
  let result: Buffer | undefined;
  const outcome = await o.dispatcher.run(o.engine, {
    jobId: String(seq), attempt: 1, node: 'conformance-kit', signal: new AbortController().signal,
    openInput: async () => ({ stream: input.open(), size: input.size }),
    deliver: async (body: Readable) => {
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      result = Buffer.concat(chunks);
    },
  });
  return { outcome, ...(result ? { result } : {}), seconds: (Date.now() - started) / 1000 };
}

function gradeGolden(g: GoldenCase, ran: Ran): Grade {
  const base = { case: g.name, kind: 'golden' as const, seconds: ran.seconds, limits: limitsOf(ran.outcome) };
  if (!ran.outcome.ok) return { ...base, outcome: 'failed', pass: false, detail: `${ran.outcome.reason}: ${ran.outcome.detail.trim().slice(-300)}` };
  const wrong = mismatch(g, ran.result ?? Buffer.alloc(0));
  return { ...base, outcome: wrong ? 'wrong result' : 'result ok', pass: !wrong && base.limits === 'ok', detail: wrong ?? 'matches the expected result' };
}

function gradeHostile(s: HostileSample, kind: ResultKind, ran: Ran): Grade {
  const base = { case: s.case, kind: 'hostile' as const, seconds: ran.seconds, limits: limitsOf(ran.outcome) };
  const o = ran.outcome;
  if (o.ok) {
    const invalid = validity(kind, ran.result ?? Buffer.alloc(0));
    return { ...base, outcome: invalid ? 'malformed result' : 'result ok', pass: !invalid && base.limits === 'ok', detail: invalid ?? s.note };
  }
  if (LIMIT_REASONS.test(o.reason)) return { ...base, outcome: 'stopped by a limit', pass: false, detail: o.reason };
  const said = o.detail.trim();
  const clean = /^exit code \d+$/.test(o.reason) && said.length > 0;
  return { ...base, outcome: clean ? 'failed cleanly' : 'failed without a reason', pass: clean && base.limits === 'ok',
    detail: `${o.reason}: ${said.split('\n').slice(-1)[0]?.slice(0, 200) ?? ''}` };
}

/** Whether the container ran within its limits and under the containment it must have. */
function limitsOf(o: RunOutcome): string {
  if (!o.ok && LIMIT_REASONS.test(o.reason)) return o.reason.split(':')[0] ?? o.reason;
  const c = o.containment;
  const missing = [
    c.network !== 'none' && 'network', c.readonlyRootfs !== true && 'read-only root',
    !(Number(c.memoryBytes) > 0) && 'memory limit', !(Number(c.pidsLimit) > 0) && 'pids limit',
  ].filter(Boolean);
  return missing.length ? `containment lacks ${missing.join(', ')}` : 'ok';
}

/** The kit's report as a table for a terminal. */
export function formatReport(r: KitReport): string {
  const head = ['case', 'kind', 'outcome', 'limits', 'seconds', 'grade', 'detail'];
  const rows = r.grades.map((g) => [g.case, g.kind, g.outcome, g.limits, g.seconds.toFixed(1), g.pass ? 'pass' : 'fail', g.detail.replace(/\s+/g, ' ').slice(0, 90)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  const verdict = `${r.engine} (${r.image}, ${r.imageId || 'image id unknown'}): ${r.passed ? 'passed' : 'failed'} ${r.grades.filter((g) => g.pass).length}/${r.grades.length}`;
  return [line(head), ...rows.map(line), verdict].join('\n');
}

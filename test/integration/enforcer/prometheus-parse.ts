/** One sample of the Prometheus text format. */
export interface PromSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/g;

/** Strictly parses text format 0.0.4; throws on any line that does not conform. */
export function parsePrometheus(text: string): PromSample[] {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const samples: PromSample[] = [];
  const typed = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3] ?? '')) throw new Error(`bad TYPE: ${line}`);
        if (typed.has(meta[2] ?? '')) throw new Error(`duplicate TYPE: ${line}`);
        typed.set(meta[2] ?? '', meta[3] ?? '');
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes "Nan").
    const nan = /^nan$/i.test(m[3] ?? '');
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : nan ? NaN : Number(m[3]);
    if (Number.isNaN(value) && !nan) throw new Error(`bad value: ${line}`);
    if (!typed.has(m[1] ?? '') && !['histogram', 'summary'].includes(typed.get((m[1] ?? '').replace(/_(bucket|sum|count)$/, '')) ?? '')) {
      throw new Error(`sample before its TYPE: ${line}`);
    }
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    samples.push({ name: m[1] ?? '', labels, value });
  }
  return samples;
}

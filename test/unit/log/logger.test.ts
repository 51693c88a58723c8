import { expect } from 'chai';
import { createLogger, jobLogger } from '../../../src/log/logger.js';

/** A logger whose lines land in an array. */
function capture(level: 'debug' | 'info' | 'warn' = 'info') {
  const out: string[] = [];
  return { out, log: createLogger('menage', level, { write: (l: string) => out.push(l) }) };
}

describe('unit: log/logger', () => {
  it('writes one JSON line per event: time, level by name, process name, pid, msg, fields', () => {
    const { out, log } = capture();
    log.info({ engine: 'md5' }, 'hello');
    expect(out).to.have.length(1);
    expect(out[0]!.endsWith('\n')).to.equal(true);
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).to.include({ level: 'info', name: 'menage', pid: process.pid, msg: 'hello', engine: 'md5' });
    expect(line.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('drops events below the level', () => {
    const { out, log } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error({ err: new Error('boom', { cause: new Error('under') }) }, 'e');
    expect(out.map((l) => (JSON.parse(l) as { level: string }).level)).to.deep.equal(['warn', 'error']);
    const err = (JSON.parse(out[1]!) as { err: { type: string; message: string; stack: string } }).err;
    expect(err).to.include({ type: 'Error' });
    expect(err.message).to.match(/^boom/);
  });

  it('keeps hostile strings inside their line (newlines, escapes, quotes, forged JSON)', () => {
    const { out, log } = capture();
    const hostile = 'a\nb\r\n{"level":"fatal","msg":"forged"}\u001b[31m\u0000"\\\u2028\u2029';
    log.info({ filename: hostile, [hostile]: hostile }, hostile);
    expect(out).to.have.length(1);
    expect(out[0]!.slice(0, -1)).to.not.match(/[\n\r\u0000\u001b]/);
    const line = JSON.parse(out[0]!) as Record<string, unknown>;
    expect(line).to.include({ msg: hostile, filename: hostile, level: 'info' });
    expect(line[hostile]).to.equal(hostile);
  });

  it('a job logger puts jobid, engine and attempt on every line, and children add to them', () => {
    const { out, log } = capture();
    const job = jobLogger(log.child({ node: 'n1' }), { jobid: '42', engine: 'md5', attempt: 2 });
    job.info('done');
    jobLogger(log, { jobid: '43', engine: 'yara' }).warn('not started');
    expect(JSON.parse(out[0]!)).to.include({ node: 'n1', jobid: '42', engine: 'md5', attempt: 2, msg: 'done' });
    expect(JSON.parse(out[1]!)).to.include({ jobid: '43', engine: 'yara', attempt: null, level: 'warn' });
  });
});

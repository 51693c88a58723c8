import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';

describe('config: loading and validation', () => {
  let dir: string;
  const engine = { name: 'md5', image: 'menagerie/md5:latest', cmd: '/engine/run', mountpoint: '/data',
    sizelimit: 100, inputfilename: 'sample', timeout: 10 };
  const write = async (name: string, value: unknown): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, typeof value === 'string' ? value : JSON.stringify(value));
    return p;
  };
  const writeSync = (name: string, value: unknown): string => {
    const p = join(dir, name);
    writeFileSync(p, JSON.stringify(value));
    return p;
  };
  const problems = (fn: () => unknown): ConfigError => {
    try {
      fn();
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      return err as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'menagerie-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a minimal config, fills defaults, resolves engines.json beside it and freezes the result', async () => {
    await write('engines.json', { engines: [engine] });
    const file = await write('config.json', { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } });
    const c = loadConfig(file, {});
    expect(c.listen).to.deep.equal({ host: '0.0.0.0', port: 8100 });
    expect(c.internalListen, 'the internal API stays on the loopback by default').to.deep.equal({ host: '127.0.0.1', port: 8101 });
    expect(c.menage.frontendUrl).to.equal('http://127.0.0.1:8101');
    expect(c.engines[0]).to.include({ name: 'md5', workers: 1, user: '65534:65534', timeoutMs: 10_000 });
    expect(c.engines[0]?.cmd).to.deep.equal(['/engine/run']);
    expect(c.engines[0]?.containment).to.include({ network: 'none', readonly: true, pids: 128 });
    expect(Object.isFrozen(c) && Object.isFrozen(c.engines[0]?.containment)).to.equal(true);
  });

  it('reports every problem of both files at once, each with file and JSON pointer', async () => {
    const enginesFile = await write('engines.json', {
      engines: [
        { ...engine, workers: 0, sizelimit: 'big' },
        { ...engine, name: 'Bad Name', inputfilename: '../x', extra: 1 },
        engine, // duplicate of the first name
      ],
    });
    const file = await write('config.json', { internalToken: 'short', rabbitmq: { url: 'http://x' }, listen: { port: 70000 }, bogus: true });
    const err = problems(() => loadConfig(file, {}));
    const seen = err.problems.map((p) => `${p.file === file ? 'config' : p.file === enginesFile ? 'engines' : p.file}${p.pointer}`);
    expect(seen).to.include.members([
      'config/internalToken', 'config/rabbitmq/url', 'config/listen/port', 'config',
      'engines/engines/0/workers', 'engines/engines/0/sizelimit', 'engines/engines/1/name',
      'engines/engines/1/inputfilename', 'engines/engines/1',
    ]);
    expect(err.message).to.contain('unknown property "bogus"').and.contain('unknown property "extra"');
    expect(err.problems.length).to.be.at.least(9);
  });

  it('scale-out keys: TLS files resolved beside the config and checked readable, each CA only with its TLS URL', async () => {
    await write('engines.json', { engines: [engine] });
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) await write(f, 'PEM');
    // A worker node's config: no shared internalToken, only its own worker token.
    const file = await write('config.json', { rabbitmq: { url: 'amqps://mq:5671', ca: 'ca.pem' },
      internalListen: { cert: 'cert.pem', key: 'key.pem' },
      menage: { frontendUrl: 'https://frontend:8101', frontendCa: 'ca.pem', token: 'mng_' + 'a'.repeat(32), node: 'node-1' } });
    const c = loadConfig(file, {});
    expect(c.internalListen).to.deep.equal({ host: '127.0.0.1', port: 8101, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') });
    expect(c.rabbitmq.ca).to.equal(join(dir, 'ca.pem'));
    expect(c.internalToken, 'absent on a worker node').to.equal('');
    expect(c.menage).to.include({ frontendCa: join(dir, 'ca.pem'), token: 'mng_' + 'a'.repeat(32), node: 'node-1' });
    // The services beside a scale-out frontend share its file but not its key pair (mounted into
    // the frontend only): they load it without checking the internal listener's files.
    const frontendOnly = await write('frontend-only.json', { rabbitmq: { url: 'amqps://mq:5671', ca: 'ca.pem' },
      internalListen: { cert: 'absent.crt', key: 'absent.key' } });
    expect(problems(() => loadConfig(frontendOnly, {})).message).to.contain('absent.crt').and.contain('absent.key');
    expect(loadConfig(frontendOnly, {}, { internalTls: false }).internalListen).to.include({ cert: join(dir, 'absent.crt') });
    const bad = await write('bad.json', { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://mq', ca: 'missing.pem' },
      internalListen: { cert: 'cert.pem' }, menage: { frontendCa: 'ca.pem', node: 'no spaces', token: 'short' } });
    const err = problems(() => loadConfig(bad, {}));
    const seen = err.problems.map((p) => p.pointer);
    expect(seen).to.include.members(['/internalListen', '/menage/node', '/menage/token']);
    expect(err.message).to.contain('missing.pem');
    // The semantic checks run once the schema passes.
    const mismatched = await write('mismatched.json', { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://mq', ca: 'ca.pem' },
      menage: { frontendCa: 'ca.pem' } });
    const err2 = problems(() => loadConfig(mismatched, {}));
    expect(err2.message).to.contain('rabbitmq.url is not amqps://').and.contain('menage.frontendUrl is not https://');
  });

  it('log.level: info by default, any pino level name, nothing else', async () => {
    await write('engines.json', { engines: [engine] });
    const base = { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } };
    expect(loadConfig(await write('config.json', base), {}).log).to.deep.equal({ level: 'info' });
    expect(loadConfig(await write('config.json', { ...base, log: { level: 'debug' } }), {}).log.level).to.equal('debug');
    const err = problems(() => loadConfig(join(dir, 'config.json'), {}) && loadConfig(writeSync('config.json', { ...base, log: { level: 'verbose', colour: true } }), {}));
    expect(err.problems.map((p) => p.pointer)).to.include.members(['/log/level', '/log']);
  });

  it('reports a duplicate engine name', async () => {
    await write('engines.json', { engines: [engine, engine] });
    const file = await write('config.json', { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } });
    expect(problems(() => loadConfig(file, {})).message).to.contain('duplicate engine name "md5"');
  });

  it('fills ${VAR} and ${VAR:-default} from the environment and reports unset ones', async () => {
    await write('engines.json', { engines: [{ ...engine, image: '${REGISTRY:-menagerie}/md5:latest', user: '${ENGINE_UID}' }] });
    const file = await write('config.json', { internalToken: '${TOKEN}', rabbitmq: { url: 'amqp://localhost' },
      listen: { port: '${PORT:-8100}' }, retention: { days: '${DAYS}' } });
    const c = loadConfig(file, { TOKEN: 't'.repeat(20), ENGINE_UID: '1234', DAYS: '7' });
    expect(c.internalToken).to.equal('t'.repeat(20));
    expect([c.listen.port, c.retention.days]).to.deep.equal([8100, 7]);
    expect(c.engines[0]?.image).to.equal('menagerie/md5:latest');
    expect(c.engines[0]?.user).to.equal('1234');
    const err = problems(() => loadConfig(file, { REGISTRY: 'reg:5000', DAYS: 'many' }));
    expect(err.message).to.contain('/retention/days: must be number');
    expect(err.message).to.contain('environment variable TOKEN is not set').and.contain('environment variable ENGINE_UID is not set');
  });

  it('refuses files that are not JSON (e.g. unquoted {{uid}} templating) and missing files', async () => {
    await write('engines.json', '{"engines":[{"user": {{uid}} }]}');
    const file = await write('config.json', { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } });
    expect(problems(() => loadConfig(file, {})).message).to.match(/engines\.json: \/: not valid JSON/);
    expect(problems(() => loadConfig(join(dir, 'nope.json'), {})).message).to.contain('cannot read file: ENOENT');
  });

  it('refuses unsafe runflags at start-up, naming the engine and the flag', async () => {
    await write('engines.json', { engines: [{ ...engine, runflags: '--privileged --net=host -v /etc:/x --read-only' }] });
    const file = await write('config.json', { internalToken: 'x'.repeat(16), rabbitmq: { url: 'amqp://localhost' } });
    const msg = problems(() => loadConfig(file, {})).message;
    expect(msg).to.contain('engine "md5": unsupported or unsafe flag --privileged');
    expect(msg).to.contain('engine "md5": --net=host');
    expect(msg).to.contain('engine "md5": unsupported or unsafe flag -v');
  });
});

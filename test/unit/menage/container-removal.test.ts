import { expect } from 'chai';
import type { Container } from 'dockerode';
import { removeContainer } from '../../../src/menage/container-removal.js';

/** A container whose removals fail with the given errors in turn, then succeed. */
function container(failures: (number | undefined)[]): { c: Container; tries: () => number } {
  let tries = 0;
  const c = {
    id: 'c1',
    remove: async () => {
      const status = failures[tries++];
      if (tries > failures.length) return;
      throw Object.assign(new Error(status === undefined ? 'connect ENOENT /var/run/docker.sock' : `HTTP ${status}`), status === undefined ? {} : { statusCode: status });
    },
  } as unknown as Container;
  return { c, tries: () => tries };
}

describe('menage/container-removal: retries while Docker is away, not past a refusal', () => {
  it('gone already (404) is done', async () => {
    const { c, tries } = container([404]);
    expect(await removeContainer(c)).to.equal(true);
    expect(tries()).to.equal(1);
  });

  it('a refusal (403 from docker-proxy, 400) is final after one try', async () => {
    for (const status of [403, 400]) {
      const { c, tries } = container([status, status]);
      expect(await removeContainer(c, { retryForMs: 60_000 }), `status ${status}`).to.equal(false);
      expect(tries()).to.equal(1);
    }
  });

  it('no answer (a socket error, or docker-proxy\'s 502) is retried for retryForMs, past the brief retry of answered errors', async () => {
    const { c, tries } = container([undefined, 502, 503, 504]);
    const started = Date.now();
    expect(await removeContainer(c, { retryForMs: 60_000, answeredForMs: 1000 })).to.equal(true);
    expect(tries()).to.equal(5);
    expect(Date.now() - started, 'it kept trying after the brief window').to.be.above(1000);
  });

  it('an error the daemon answers with (500) is retried only briefly, whatever retryForMs', async () => {
    const { c } = container(Array.from({ length: 100 }, () => 500));
    const started = Date.now();
    expect(await removeContainer(c, { retryForMs: 60_000, answeredForMs: 500 })).to.equal(false);
    expect(Date.now() - started).to.be.below(2000);
  });

  it('aborted (shutdown): one last try, then given up', async () => {
    const { c, tries } = container(Array.from({ length: 100 }, () => undefined));
    const ctl = new AbortController();
    const removal = removeContainer(c, { retryForMs: 60_000, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 300);
    const started = Date.now();
    expect(await removal).to.equal(false);
    expect(Date.now() - started).to.be.below(1500);
    expect(tries()).to.be.within(2, 4);
  });
});

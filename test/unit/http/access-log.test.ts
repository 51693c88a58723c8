import { expect } from 'chai';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { accessLog, loggablePath, requestIdOf } from '../../../src/http/access-log.js';
import { createLogger, type Logger } from '../../../src/log/logger.js';

describe('unit: http/access-log', () => {
  it('logs the path, and the query with only harmless values', () => {
    const table: [string, string][] = [
      ['/result/1', '/result/1'],
      ['/result/1?wait=30', '/result/1?wait=30'],
      ['/md5/upload?force=1', '/md5/upload?force=1'],
      ['/md5/upload?callback=https%3A%2F%2Fhook%2Fx%3Ftoken%3Dsecret&force=true', '/md5/upload?callback=*&force=true'],
      ['/api/v1/jobs?filename=private.doc&limit=5&status=Success', '/api/v1/jobs?filename=*&limit=5&status=Success'],
      ['/x?token=abc&access_token=def&Authorization=Bearer%20x', '/x?token=*&access_token=*&Authorization=*'],
      ['/x?', '/x'],
      ['/x?a', '/x?a=*'],
      ['/x?limit=%0A%1B[31m', '/x?limit=%0A%1B%5B31m'],
    ];
    for (const [url, logged] of table) expect(loggablePath(url), url).to.equal(logged);
  });

  it('bounds what a huge target can put in a line', () => {
    const url = `/${'a'.repeat(10_000)}?${Array.from({ length: 100 }, (_, i) => `limit${'x'.repeat(200)}${i}=${'v'.repeat(500)}`).join('&')}`;
    const logged = loggablePath(url);
    expect(logged.length).to.be.below(512 + 20 * (64 + 3) + 10);
    expect(loggablePath(`/x?limit=${'9'.repeat(1000)}`)).to.equal(`/x?limit=${'9'.repeat(128)}`);
  });

  it('takes a plain client request id, and makes one for anything else', () => {
    for (const id of ['abc', 'req-1.2_3:4', 'A'.repeat(128), '6d3f1c2e-0b9a-4e51-9a8e-2f0f7f6b1c11', 'x@host+1=']) {
      expect(requestIdOf(id), id).to.equal(id);
    }
    for (const bad of [undefined, '', 'has space', 'new\nline', 'A'.repeat(129), '"quoted"', 'a/b', '\u001b[31m', 'ü']) {
      const made = requestIdOf(bad);
      expect(made, String(bad)).to.not.equal(bad);
      expect(made, String(bad)).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(requestIdOf(undefined)).to.not.equal(requestIdOf(undefined));
  });
});

describe('unit: http/access-log middleware', () => {
  async function serve(level: 'info' | 'debug'): Promise<{ lines: string[]; requestId: string | null; routeLogged: boolean }> {
    const lines: string[] = [];
    const app = new Koa();
    app.use(accessLog(createLogger('frontend', level, { write: (l: string) => lines.push(l) }), { listener: 'internal', level: 'debug' }));
    let routeLogged = false;
    app.use((ctx) => { routeLogged = typeof (ctx.state.log as Logger | undefined)?.info === 'function'; ctx.body = 'ok'; });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { headers: { 'X-Request-Id': 'r-1' } });
      await res.text();
      await new Promise((r) => setTimeout(r, 20));
      return { lines, requestId: res.headers.get('x-request-id'), routeLogged };
    } finally {
      server.close();
    }
  }

  it('writes the internal API\'s debug line only when debug is on; the request id and the routes\' logger are there either way', async () => {
    const off = await serve('info');
    expect(off).to.deep.equal({ lines: [], requestId: 'r-1', routeLogged: true });
    const on = await serve('debug');
    expect(on.requestId).to.equal('r-1');
    expect(on.lines).to.have.length(1);
    expect(JSON.parse(on.lines[0]!)).to.include({ listener: 'internal', path: '/x', status: 200, requestId: 'r-1', msg: 'request' });
  });
});

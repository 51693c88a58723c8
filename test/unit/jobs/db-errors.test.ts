import { expect } from 'chai';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { errorMiddleware } from '../../../src/http/errors.js';
import { translateDbError } from '../../../src/jobs/store.js';
import { silentLogger } from '../../../src/log/logger.js';

describe('jobs/store: driver errors as clients see them', () => {
  /** The answer of an app whose route fails with the translation of `driverError`. */
  async function answerFor(driverError: Error): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
    const app = new Koa();
    app.use(errorMiddleware(silentLogger()));
    app.use(() => translateDbError(driverError));
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
    } finally {
      server.close();
    }
  }

  it('mysql2\'s full pool queue is 503 OVERLOADED with Retry-After: 1; a refused connection 503 DATABASE_UNAVAILABLE with Retry-After: 5', async () => {
    const full = await answerFor(new Error('Queue limit reached.'));
    expect(full).to.deep.equal({ status: 503, retryAfter: '1', body: { error: { code: 'OVERLOADED', message: 'the server has too many requests waiting for its database; try again shortly' } } });
    const down = await answerFor(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' }));
    expect(down).to.deep.equal({ status: 503, retryAfter: '5', body: { error: { code: 'DATABASE_UNAVAILABLE', message: 'the job database is not available; try again shortly' } } });
  });
});

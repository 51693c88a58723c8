import { expect } from 'chai';
import { connect, type ConsumeMessage } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerConnection } from '../../../src/queue/connection.js';
import { EngineConsumer, type Disposition } from '../../../src/queue/consumer.js';
import { DeadLetterConsumer } from '../../../src/queue/dead-letters.js';
import { Publisher } from '../../../src/queue/publisher.js';
import { names } from '../../../src/queue/topology.js';
import { amqpUrl, unique } from '../../support/services.js';
import { silentLogger } from '../../../src/log/logger.js';

/** Rejects if `p` takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

describe('integration: consumer lifecycle (close while opening, pause, resume, republish)', function () {
  this.timeout(60_000);
  let prefix: string;
  let conn: BrokerConnection;

  beforeEach(() => {
    prefix = unique('ql-');
    conn = new BrokerConnection(amqpUrl());
  });
  afterEach(async () => {
    await conn.close();
    const admin = await connect(amqpUrl());
    const ch = await admin.createChannel();
    for (const q of [names(prefix).queue('e'), names(prefix).deadLetter, names(prefix).poison]) await ch.deleteQueue(q).catch(() => undefined);
    await ch.deleteExchange(names(prefix).deadLetter).catch(() => undefined);
    await admin.close();
  });

  it('close() right after start() returns, whenever it comes while the channel is being opened', async () => {
    // The frontend and menage close their consumers this way when start-up fails just after
    // they began (e.g. menage refusing an engine): a close that found no channel yet hung forever.
    for (let i = 0; i < 12; i++) {
      const dead = new DeadLetterConsumer(conn, { prefix, engines: ['e'], handle: async () => undefined, log: silentLogger() });
      dead.start();
      const engine = new EngineConsumer(conn, { prefix, engine: 'e', slots: 1, log: silentLogger(), handle: async () => 'ack' });
      void engine.start();
      await sleep(i * 4);
      await within(dead.close(), 5000, `dead-letter consumer close after ${i * 4} ms`);
      await within(engine.close(100), 5000, `engine consumer close after ${i * 4} ms`);
    }
  });

  it('every close() returns the promise of the first call (consumer, dead letters, publisher, connection)', async () => {
    const dead = new DeadLetterConsumer(conn, { prefix, engines: ['e'], handle: async () => undefined, log: silentLogger() });
    dead.start();
    const engine = new EngineConsumer(conn, { prefix, engine: 'e', slots: 1, log: silentLogger(), handle: async () => 'ack' });
    await engine.start();
    const publisher = new Publisher(conn, prefix, ['e']);
    await publisher.start();
    for (const closable of [engine, dead, publisher, conn]) {
      const first = closable.close();
      expect(closable.close(), closable.constructor.name).to.equal(first);
      await within(first, 10_000, `${closable.constructor.name}.close()`);
      expect(closable.close(), `${closable.constructor.name} after it closed`).to.equal(first);
    }
  });

  it('a closed publisher waited for its confirms, and refuses later publishes with BROKER_UNAVAILABLE', async () => {
    const publisher = new Publisher(conn, prefix, ['e']);
    await publisher.start();
    const sent = Array.from({ length: 20 }, (_, i) => publisher.publish({ jobId: String(i + 1), engine: 'e' }));
    await publisher.close();
    await Promise.all(sent);
    const admin = await connect(amqpUrl());
    try {
      const ch = await admin.createChannel();
      expect((await ch.checkQueue(names(prefix).queue('e'))).messageCount).to.equal(20);
    } finally {
      await admin.close();
    }
    let refused: unknown;
    await publisher.publish({ jobId: '99', engine: 'e' }).catch((err: unknown) => (refused = err));
    expect((refused as { code?: string } | undefined)?.code).to.equal('BROKER_UNAVAILABLE');
  });

  it('a paused consumer takes nothing; resumed, it does; republish hands back a message without counting a delivery', async () => {
    const publisher = new Publisher(conn, prefix, ['e']);
    await publisher.start();
    const seen: ConsumeMessage[] = [];
    let answer: Disposition = 'republish';
    const c = new EngineConsumer(conn, {
      prefix, engine: 'e', slots: 2, log: silentLogger(),
      handle: async (_m, _s, raw) => {
        seen.push(raw);
        const a = answer;
        answer = 'ack';
        return a;
      },
    });
    await c.start();
    try {
      c.pause();
      await sleep(300);
      await publisher.publish({ jobId: '1', engine: 'e' });
      await sleep(1500);
      expect(seen, 'deliveries while paused').to.have.length(0);
      c.resume();
      for (let i = 0; i < 50 && seen.length < 2; i++) await sleep(100);
      expect(seen).to.have.length(2);
      const counts = seen.map((m) => Number(m.properties.headers?.['x-delivery-count'] ?? 0));
      expect(counts, 'x-delivery-count of the first delivery and of the republished one').to.deep.equal([0, 0]);
      expect(JSON.parse(seen[1]!.content.toString())).to.deep.equal({ jobId: '1', engine: 'e' });
    } finally {
      await c.close(1000);
    }
  });
});

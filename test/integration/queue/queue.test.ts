import { expect } from 'chai';
import { connect } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerConnection } from '../../../src/queue/connection.js';
import { EngineConsumer, type Disposition } from '../../../src/queue/consumer.js';
import { Publisher } from '../../../src/queue/publisher.js';
import { names, type JobMessage } from '../../../src/queue/topology.js';
import { amqpUrl, unique } from '../../support/services.js';
import { silentLogger } from '../../../src/log/logger.js';

describe('integration: RabbitMQ topology, confirms, consumers', () => {
  let prefix: string;
  let conn: BrokerConnection;
  const cleanup: (() => Promise<unknown>)[] = [];

  beforeEach(() => {
    prefix = unique('qt-');
    conn = new BrokerConnection(amqpUrl());
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
    const admin = await connect(amqpUrl());
    const ch = await admin.createChannel();
    for (const q of [names(prefix).queue('e'), names(prefix).deadLetter, names(prefix).poison]) await ch.deleteQueue(q).catch(() => undefined);
    await ch.deleteExchange(names(prefix).deadLetter).catch(() => undefined);
    await admin.close();
    await conn.close();
  });

  const consume = async (slots: number, handle: (m: JobMessage | undefined) => Promise<Disposition>): Promise<EngineConsumer> => {
    const c = new EngineConsumer(conn, { prefix, engine: 'e', slots, log: silentLogger(), handle: (m) => handle(m) });
    await c.start();
    cleanup.push(() => c.close(1000));
    return c;
  };

  it('declares a durable quorum queue per engine with a dead-letter exchange', async () => {
    await new Publisher(conn, prefix, ['e']).start();
    const admin = await connect(amqpUrl());
    const ch = await admin.createChannel();
    const q = await ch.checkQueue(names(prefix).queue('e'));
    expect(q.queue).to.equal(names(prefix).queue('e'));
    await ch.checkQueue(names(prefix).deadLetter);
    await admin.close();
  });

  it('a confirmed message reaches a consumer with its publication time; ack removes it', async () => {
    const pub = new Publisher(conn, prefix, ['e']);
    const before = Date.now();
    await pub.publish({ jobId: '7', engine: 'e' });
    const after = Date.now();
    const got: JobMessage[] = [];
    await consume(1, async (m) => {
      if (m) got.push(m);
      return 'ack';
    });
    for (let i = 0; i < 50 && got.length === 0; i++) await sleep(100);
    expect(got.map(({ jobId, engine }) => ({ jobId, engine }))).to.deep.equal([{ jobId: '7', engine: 'e' }]);
    expect(got[0]?.publishedAt, 'the x-published-at header (menage\'s queue-wait metric)').to.be.within(before, after);
  });

  it('never hands a consumer more deliveries than its slots', async () => {
    const pub = new Publisher(conn, prefix, ['e']);
    for (let i = 1; i <= 8; i++) await pub.publish({ jobId: String(i), engine: 'e' });
    let busy = 0;
    let peak = 0;
    let done = 0;
    await consume(3, async () => {
      peak = Math.max(peak, ++busy);
      await sleep(150);
      busy--;
      done++;
      return 'ack';
    });
    for (let i = 0; i < 100 && done < 8; i++) await sleep(100);
    expect(done).to.equal(8);
    expect(peak).to.equal(3);
  });

  it('dead-letters a poison message and keeps consuming', async () => {
    const admin = await connect(amqpUrl());
    const ch = await admin.createConfirmChannel();
    await new Publisher(conn, prefix, ['e']).start();
    ch.sendToQueue(names(prefix).queue('e'), Buffer.from('not json'), { persistent: true });
    ch.sendToQueue(names(prefix).queue('e'), Buffer.from(JSON.stringify({ jobId: '5', engine: 'e' })), { persistent: true });
    await ch.waitForConfirms();
    const good: string[] = [];
    await consume(1, async (m) => {
      if (!m) return 'dead-letter';
      good.push(m.jobId);
      return 'ack';
    });
    let dead: false | { content: Buffer } = false;
    for (let i = 0; i < 50 && !dead; i++) {
      await sleep(100);
      dead = await ch.get(names(prefix).deadLetter, { noAck: true });
    }
    expect(dead && dead.content.toString()).to.equal('not json');
    expect(good).to.deep.equal(['5']);
    await admin.close();
  });

  it('a publish to an unreachable broker fails fast with BROKER_UNAVAILABLE', async () => {
    const dead = new BrokerConnection('amqp://127.0.0.1:1');
    try {
      await new Publisher(dead, prefix, ['e'], 2000).publish({ jobId: '1', engine: 'e' });
      expect.fail('should have thrown');
    } catch (err) {
      expect((err as { code: string }).code).to.equal('BROKER_UNAVAILABLE');
      expect((err as { status: number }).status).to.equal(503);
    } finally {
      await dead.close();
    }
  });
});

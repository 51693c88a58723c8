import { expect } from 'chai';
import { connect } from 'amqplib';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrokerConnection } from '../../../src/queue/connection.js';
import { QueueDepths } from '../../../src/queue/depth.js';
import { Publisher } from '../../../src/queue/publisher.js';
import { names } from '../../../src/queue/topology.js';
import { amqpUrl, unique } from '../../support/services.js';

describe('integration: queue depths for GET /api/v1/engines', function () {
  this.timeout(30_000);
  let prefix: string;
  let conn: BrokerConnection;

  beforeEach(() => {
    prefix = unique('qd-');
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

  it('counts the messages waiting, cached for a few seconds; a missing queue is null and does not break later checks', async () => {
    const depths = new QueueDepths(conn, prefix);
    expect(await depths.depth('e')).to.equal(null); // not declared yet
    const publisher = new Publisher(conn, prefix, ['e']);
    await publisher.start();
    for (let i = 1; i <= 3; i++) await publisher.publish({ jobId: String(i), engine: 'e' });
    expect(await depths.depth('e')).to.equal(null); // the cached answer, still within its few seconds
    await sleep(3100);
    expect(await depths.depth('e')).to.equal(3);
    await publisher.close();
  });

  it('answers null within about a second when the broker cannot be reached', async () => {
    const away = new BrokerConnection('amqp://guest:guest@10.255.255.1:5672/');
    try {
      const started = Date.now();
      expect(await new QueueDepths(away, prefix).depth('e')).to.equal(null);
      expect(Date.now() - started).to.be.below(2000);
    } finally {
      await away.close();
    }
  });
});

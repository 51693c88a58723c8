import { expect } from 'chai';
import mysql from 'mysql2/promise';
import { testEngine, undroppedDatabases } from '../support/services.js';
import { startStack } from '../support/stack.js';

describe('e2e: a stack that cannot start leaves no test database behind', function () {
  this.timeout(60_000);

  it('menage refusing at start-up: the frontend is closed and the database dropped', async () => {
    const before = new Set(undroppedDatabases());
    let error: Error | undefined;
    await startStack([testEngine('ok'), testEngine('gvisor', { runtime: 'runsc-not-installed' })]).catch((err: Error) => (error = err));
    expect(error?.message).to.match(/runtime "runsc-not-installed" is not installed/);
    const mine = undroppedDatabases().filter((n) => !before.has(n));
    expect(mine, 'databases created for the stack and not dropped').to.deep.equal([]);
    const conn = await mysql.createConnection({ host: '127.0.0.1', user: process.env.MENAGERIE_TEST_MYSQL_USER, password: process.env.MENAGERIE_TEST_MYSQL_PASSWORD });
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW DATABASES');
      expect(rows.map((r) => String(Object.values(r)[0])).filter((n) => n.startsWith('menagerie_test_') && !before.has(n) && mine.includes(n))).to.deep.equal([]);
    } finally {
      await conn.end();
    }
  });
});

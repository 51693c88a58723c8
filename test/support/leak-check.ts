import mysql from 'mysql2/promise';
import { undroppedDatabases } from './services.js';

/**
 * A root hook (test/.mocharc.json requires this file): after every suite has run, no test
 * database this process created may still exist. Catches suites that leave their
 * `menagerie_test_*` database behind (a failed start-up, a close that threw or hung) in the
 * run that leaked it, even while other runs share the server.
 */
export const mochaHooks = {
  async afterAll(this: { timeout(ms: number): void }): Promise<void> {
    this.timeout(30_000);
    const names = undroppedDatabases();
    if (names.length === 0) return;
    const conn = await mysql.createConnection({ host: '127.0.0.1', user: process.env.MENAGERIE_TEST_MYSQL_USER,
      password: process.env.MENAGERIE_TEST_MYSQL_PASSWORD });
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name IN (?)', [names]);
      const left = rows.map((r) => String(r.name));
      for (const name of left) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      if (left.length) throw new Error(`test databases left behind (now dropped): ${left.join(', ')}; the suites that made them must drop them`);
    } finally {
      await conn.end();
    }
  },
};

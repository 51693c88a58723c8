import mysql, { type Pool, type PoolOptions, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { poolOptions, translateDbError, UTC_SESSION } from '../jobs/store.js';
import type { Role } from './roles.js';

/** A stored API token (its hash, never the token). */
export interface TokenRecord {
  id: string;
  name: string;
  owner: string;
  role: Role;
  hash: string;
  hint: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const TIMEOUT_MS = 10_000;

/** The api_tokens table (created by the database migrations in jobs/migrations.ts). */
export class TokenStore {
  readonly #pool: Pool;
  /** Whether the pool is this store's own (closed with it) or shared (the job store's). */
  readonly #owned: boolean;
  #closing: Promise<void> | undefined;

  /** On a shared pool (the frontend passes the job store's), or on a small one of its own (the CLI). */
  constructor(source: Pool | PoolOptions) {
    this.#owned = !isPool(source);
    if (isPool(source)) {
      this.#pool = source;
      return;
    }
    this.#pool = mysql.createPool(poolOptions({ connectionLimit: 4, ...source }));
    this.#pool.on('connection', (conn) => {
      const core = conn as unknown as { query(sql: string, cb: (e: Error | null) => void): void; destroy(): void };
      core.query(UTC_SESSION, (err) => {
        if (err) core.destroy();
      });
    });
  }

  /** Stores a new token's hash; returns its id. */
  async create(t: { name: string; owner: string; role: Role; hash: string; hint: string }): Promise<string> {
    const [res] = await this.#pool
      .execute<ResultSetHeader>({ sql: 'INSERT INTO api_tokens (name, owner, role, hash, hint) VALUES (?, ?, ?, ?, ?)', timeout: TIMEOUT_MS },
        [t.name, t.owner, t.role, t.hash, t.hint])
      .catch(translateDbError);
    return String(res.insertId);
  }

  /** The token with this hash, revoked or not. */
  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    const [rows] = await this.#pool
      .execute<RowDataPacket[]>({ sql: 'SELECT * FROM api_tokens WHERE hash = ?', timeout: TIMEOUT_MS }, [hash])
      .catch(translateDbError);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Every token, oldest first. */
  async list(): Promise<TokenRecord[]> {
    const [rows] = await this.#pool.query<RowDataPacket[]>({ sql: 'SELECT * FROM api_tokens ORDER BY id', timeout: TIMEOUT_MS })
      .catch(translateDbError);
    return rows.map(toRecord);
  }

  /** The tokens not revoked that have this name. */
  async activeByName(name: string): Promise<TokenRecord[]> {
    const [rows] = await this.#pool
      .execute<RowDataPacket[]>({ sql: 'SELECT * FROM api_tokens WHERE name = ? AND revoked_at IS NULL', timeout: TIMEOUT_MS }, [name])
      .catch(translateDbError);
    return rows.map(toRecord);
  }

  /** Revokes the token with this id, or every active token with this name; returns how many. */
  async revoke(idOrName: string): Promise<number> {
    const byId = /^[1-9][0-9]{0,18}$/.test(idOrName);
    const [res] = await this.#pool
      .execute<ResultSetHeader>({ sql: `UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP(3) WHERE ${byId ? 'id' : 'name'} = ? AND revoked_at IS NULL`, timeout: TIMEOUT_MS },
        [idOrName])
      .catch(translateDbError);
    return res.affectedRows;
  }

  /** Notes that a token was used (callers throttle this). */
  async touch(id: string): Promise<void> {
    await this.#pool.execute({ sql: 'UPDATE api_tokens SET last_used_at = CURRENT_TIMESTAMP(3) WHERE id = ?', timeout: TIMEOUT_MS }, [id])
      .catch(translateDbError);
  }

  /** Closes its own pool (a shared one stays open); safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#owned ? this.#pool.end().catch(() => undefined) : Promise.resolve();
    return this.#closing;
  }
}

function isPool(source: Pool | PoolOptions): source is Pool {
  return typeof (source as Pool).getConnection === 'function';
}

function toRecord(r: RowDataPacket): TokenRecord {
  return {
    id: String(r.id), name: r.name, owner: r.owner, role: r.role, hash: r.hash, hint: r.hint,
    createdAt: r.created_at, lastUsedAt: r.last_used_at ?? null, revokedAt: r.revoked_at ?? null,
  };
}

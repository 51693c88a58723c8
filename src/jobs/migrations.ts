/**
 * Numbered schema migrations. Applied in order at frontend start, each once; a migration
 * may add but never drops data. Append new ones; never edit one that has shipped.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: readonly string[] }[] = [
  {
    version: 1,
    name: 'jobs',
    sql: [
      `CREATE TABLE IF NOT EXISTS jobs (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        engine VARCHAR(64) NOT NULL,
        filename VARCHAR(255) NOT NULL,
        size BIGINT UNSIGNED NOT NULL,
        sha256 CHAR(64) NOT NULL,
        status ENUM('Received','Running','Success','Fail') NOT NULL DEFAULT 'Received',
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        lease CHAR(32) NULL,
        reason VARCHAR(255) NULL,
        summary VARCHAR(255) NOT NULL DEFAULT '',
        result_size BIGINT UNSIGNED NULL,
        worker VARCHAR(128) NULL,
        last_error VARCHAR(1024) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        started_at DATETIME(3) NULL,
        finished_at DATETIME(3) NULL,
        deadline DATETIME(3) NULL,
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY jobs_engine_status (engine, status, id),
        KEY jobs_status_deadline (status, deadline),
        KEY jobs_status_updated (status, updated_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 2,
    name: 'containment report',
    sql: [`ALTER TABLE jobs ADD COLUMN IF NOT EXISTS containment JSON NULL`],
  },
  {
    version: 3,
    name: 'job events',
    sql: [
      `CREATE TABLE IF NOT EXISTS job_events (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        job_id BIGINT UNSIGNED NOT NULL,
        event VARCHAR(32) NOT NULL,
        status ENUM('Received','Running','Success','Fail') NOT NULL,
        lease CHAR(32) NULL,
        at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY job_events_job (job_id, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 4,
    name: 'queued flag (outbox)',
    sql: [
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS queued TINYINT(1) NOT NULL DEFAULT 0`,
      // Rows from before this migration were published when they were created.
      `UPDATE jobs SET queued = 1`,
      `CREATE INDEX IF NOT EXISTS jobs_status_queued ON jobs (status, queued, created_at)`,
    ],
  },
  {
    version: 5,
    name: 'infrastructure hand-backs',
    sql: [
      // When an outage of the appliance's own services first handed the job back: the job
      // fails for infrastructure reasons only once this is older than the configured timeout.
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS infra_since DATETIME(3) NULL`,
    ],
  },
  {
    version: 6,
    name: 'api tokens and job owners',
    sql: [
      // Tokens are stored as an HMAC under the server's key (auth.key), never in clear.
      `CREATE TABLE IF NOT EXISTS api_tokens (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        name VARCHAR(64) NOT NULL,
        owner VARCHAR(64) NOT NULL,
        role ENUM('submit','read','admin','worker') NOT NULL,
        hash CHAR(64) NOT NULL,
        hint CHAR(6) NOT NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        last_used_at DATETIME(3) NULL,
        revoked_at DATETIME(3) NULL,
        PRIMARY KEY (id),
        UNIQUE KEY api_tokens_hash (hash),
        KEY api_tokens_name (name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      // Whose job it is: a submit token reads only its owner's jobs. NULL: the open mode.
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS owner VARCHAR(64) NULL`,
      `CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, id)`,
    ],
  },
  {
    version: 7,
    name: 'job listing indexes',
    sql: [
      // GET /api/v1/jobs walks one of these backwards from its cursor (src/jobs/listing.ts):
      // equality columns first, then id, so a page reads about as many rows as it returns.
      `CREATE INDEX IF NOT EXISTS jobs_sha256 ON jobs (sha256, id)`,
      `CREATE INDEX IF NOT EXISTS jobs_filename ON jobs (filename, id)`,
      `CREATE INDEX IF NOT EXISTS jobs_owner_status ON jobs (owner, status, id)`,
      `CREATE INDEX IF NOT EXISTS jobs_owner_engine ON jobs (owner, engine, id)`,
      `CREATE INDEX IF NOT EXISTS jobs_owner_engine_status ON jobs (owner, engine, status, id)`,
      `CREATE INDEX IF NOT EXISTS jobs_engine ON jobs (engine, id)`,
      `CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, id)`,
      // Turns a created range into id bounds (one row read per bound).
      `CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at, id)`,
    ],
  },
  {
    version: 8,
    name: 'job control: retries, result cache, image digests, callbacks, idempotency keys',
    sql: [
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS retry_of BIGINT UNSIGNED NULL`,
      // Answered from an earlier job's result (same sha256, engine and image digest).
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS cached TINYINT(1) NOT NULL DEFAULT 0`,
      // The engine image (Docker image id) the job ran on, from the worker's containment report.
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS image_digest VARCHAR(100) NULL`,
      // Where the final job record is POSTed (webhook); checked against the allowed prefixes.
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS callback VARCHAR(2048) NULL`,
      `CREATE INDEX IF NOT EXISTS jobs_cache ON jobs (sha256, engine, image_digest, status, id)`,
      // One row per (caller, key): the request it answered (engines, body hash) and its jobs
      // (NULL while the first request is still creating them).
      `CREATE TABLE IF NOT EXISTS idempotency_keys (
        scope VARCHAR(100) NOT NULL,
        idem_key VARCHAR(255) NOT NULL,
        engines VARCHAR(1024) NOT NULL,
        body_sha256 CHAR(64) NOT NULL,
        jobs JSON NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (scope, idem_key),
        KEY idempotency_keys_created (created_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 9,
    name: 'webhook outbox',
    sql: [
      // Written in the same transaction that finishes a job with a callback, so a crash or a
      // restart loses no delivery; the dispatcher works through it with backoff.
      `CREATE TABLE IF NOT EXISTS webhook_deliveries (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        job_id BIGINT UNSIGNED NOT NULL,
        url VARCHAR(2048) NOT NULL,
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        next_at DATETIME(3) NOT NULL,
        delivered_at DATETIME(3) NULL,
        gave_up_at DATETIME(3) NULL,
        last_error VARCHAR(1024) NULL,
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY webhook_deliveries_job (job_id),
        KEY webhook_deliveries_due (delivered_at, gave_up_at, next_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    ],
  },
  {
    version: 10,
    name: 'console throughput index',
    sql: [
      // The console's jobs-per-minute counts the jobs finished in the last minutes.
      `CREATE INDEX IF NOT EXISTS jobs_finished_at ON jobs (finished_at)`,
    ],
  },
  {
    version: 11,
    name: 'warm-pool container of a run',
    sql: [
      // A warm-pool container is created before its job is known and so carries no job label:
      // the worker records it here before starting it, and the enforcer and the orphan sweeper
      // find the job by it. Cleared when the job starts again (a new attempt, a new container).
      `ALTER TABLE jobs ADD COLUMN IF NOT EXISTS container_id CHAR(64) NULL`,
      `CREATE INDEX IF NOT EXISTS jobs_container ON jobs (container_id)`,
    ],
  },
  {
    version: 12,
    name: 'reaper index for jobs handed back by an outage',
    sql: [
      // The reaper's scan for waiting jobs first handed back by an outage (infra_since) reads
      // this range instead of every waiting job (a backlog of thousands, every few seconds).
      `CREATE INDEX IF NOT EXISTS jobs_status_infra ON jobs (status, infra_since)`,
    ],
  },
];

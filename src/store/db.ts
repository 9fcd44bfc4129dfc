// Opening the database: SQLite (one file, the embedded default) or PostgreSQL (a URL), then
// bringing its schema up to date. Also the one transaction helper every state change uses.
import fs from 'node:fs';
import path from 'node:path';
import type SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import { ShipgateError, StoreError } from '../errors.js';
import { guarded, unavailable } from './availability.js';
import { type Dialect, migrationProvider } from './migrations.js';
import type { DB } from './schema.js';
import { queuedPool } from './pg-queue.js';

export type { Dialect };

export interface Database {
  db: Kysely<DB>;
  dialect: Dialect;
  /** Where it lives, with any password removed: safe to print. */
  location: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://... ; when set, PostgreSQL is used. */
  url?: string | null;
  /** SQLite file path, used when no url. */
  sqlitePath?: string;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}

/** Connections per process; more requests than this wait their turn (see pg-queue.ts). */
const POOL_SIZE = 10;

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  let database: Database;
  if (opts.url) {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) {
      throw new StoreError(`database url must start with postgres:// (got ${redactUrl(opts.url)})`);
    }
    const location = redactUrl(opts.url);
    // Each engine's client is loaded only when that engine is used.
    const { default: pg } = await import('pg');
    // A process frozen inside a transaction (SIGSTOP, a long GC pause) would hold its row locks,
    // and with them every other replica's writes, until it wakes: the server ends such a
    // session after 10 s idle in a transaction (docs/scale.md).
    const pool = new pg.Pool({ connectionString: opts.url, max: POOL_SIZE, connectionTimeoutMillis: 5000, idle_in_transaction_session_timeout: 10_000 });
    // An idle connection the server cut (a restart, pg_terminate_backend) is reported here and
    // dropped by the pool; the next query opens a fresh one or fails as a StoreError. Without
    // a listener the pool's 'error' event would end the process.
    pool.on('error', () => {});
    const db = new Kysely<DB>({ dialect: guarded(new PostgresDialect({ pool: queuedPool(pool, POOL_SIZE, 30_000) }), location) });
    database = { db, dialect: 'postgres', location, close: () => db.destroy() };
  } else {
    const file = opts.sqlitePath ?? '.shipgate/shipgate.db';
    let sqlite: SQLite.Database;
    try {
      if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const { default: Sqlite } = await import('better-sqlite3');
      sqlite = new Sqlite(file);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('busy_timeout = 10000');
      sqlite.pragma('foreign_keys = ON');
      sqlite.pragma('synchronous = NORMAL');
    } catch (err) {
      throw new StoreError(`cannot open SQLite database ${file}: ${(err as Error).message}`);
    }
    const db = new Kysely<DB>({ dialect: guarded(new SqliteDialect({ database: withStatementCache(sqlite) }), `sqlite ${file}`) });
    database = { db, dialect: 'sqlite', location: file, close: () => db.destroy() };
  }
  try {
    await migrate(database);
  } catch (err) {
    await database.close().catch(() => {});
    if (err instanceof ShipgateError) throw err;
    throw new StoreError(`cannot open the store at ${database.location}: ${(err as Error).message}`);
  }
  return database;
}

/** Prepared statements kept per connection: an approval runs about 30, of a few dozen kinds. */
const STATEMENT_CACHE = 500;

/**
 * The SQLite connection with its prepared statements kept by SQL text. Kysely prepares every
 * query it runs, and preparing (parsing and planning the SQL) was the largest single cost of
 * the server under bench/approve-latency.ts: a sixth of its time, more than running the
 * queries. A statement still being iterated is never handed out twice.
 */
function withStatementCache(sqlite: SQLite.Database) {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string): SQLite.Statement {
      const kept = cache.get(text);
      if (kept && !kept.busy) return kept;
      const stmt = sqlite.prepare(text);
      if (!kept) {
        // Oldest first out: Map keeps insertion order.
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

export type Readiness = { ready: true } | { ready: false; reason: string };

/**
 * Whether the store can serve requests: it answers, and every migration this version of
 * shipgate knows has been applied. The reason names no location (it is shown to anyone).
 */
export async function readiness(database: Database): Promise<Readiness> {
  let applied: Set<string>;
  try {
    const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(database.db);
    applied = new Set(rows.rows.map((r) => r.name));
  } catch (err) {
    const down = unavailable(err, database.dialect);
    if (down) return { ready: false, reason: `the ${database.dialect} store is unreachable` };
    return { ready: false, reason: `the ${database.dialect} store has no migration table: it was not set up by shipgate` };
  }
  const known = Object.keys(await migrationProvider(database.dialect).getMigrations());
  const missing = known.filter((name) => !applied.has(name));
  if (missing.length) return { ready: false, reason: `${missing.length} migration(s) not applied yet: ${missing.join(', ')}` };
  return { ready: true };
}

async function migrate(database: Database): Promise<void> {
  const migrator = new Migrator({ db: database.db, provider: migrationProvider(database.dialect) });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/**
 * Runs fn in one transaction. On SQLite the transaction takes the write lock at its start
 * (BEGIN IMMEDIATE), so read-then-write sequences from several processes serialise instead
 * of failing half-way; on PostgreSQL callers lock what they read with FOR UPDATE.
 */
export async function inTransaction<T>(database: Database, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  if (database.dialect === 'postgres') {
    return database.db.transaction().execute((trx: Transaction<DB>) => fn(trx));
  }
  return database.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => {});
      throw err;
    }
  });
}

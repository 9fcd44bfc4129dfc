// When the store itself fails — PostgreSQL down or restarted, a connection cut, a full disk, a
// read-only or unopenable SQLite file — every caller must see one thing: a StoreError (HTTP 503,
// exit code 1) that names the store, never an "internal error". The translation lives here, in
// a dialect that wraps the real one, so no caller has to know how each engine reports it.
// Everything else (constraint violations, bad SQL) passes through untouched.
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, Kysely, QueryResult, TransactionSettings } from 'kysely';
import { StoreError } from '../errors.js';

// PostgreSQL SQLSTATE classes and codes that mean "the database is not there right now":
// 08 connection exception, 53 insufficient resources (disk full, too many connections),
// 57P01-03 shutdown / crash / starting up, 58 system error, 25006 a read-only server, and 55000
// when it says the database does not accept connections now (ALTER DATABASE … ALLOW_CONNECTIONS
// false, as during maintenance; other 55000 errors are bugs and stay 500).
const PG_UNAVAILABLE = /^(08|53|58)|^57P0[123]$|^25006$/;
const PG_NOT_ACCEPTING = /not currently accepting connections/i;
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const PG_CLIENT_GONE = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Client was closed/i;
// better-sqlite3 error codes: full disk, read-only file, I/O error, cannot open, corrupt, busy
// past the busy timeout, out of memory.
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|READONLY|IOERR|CANTOPEN|CORRUPT|NOTADB|BUSY|LOCKED|PERM|NOMEM|AUTH)/;
const FS_UNAVAILABLE = new Set(['ENOSPC', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EDQUOT']);

/** A StoreError naming the store when `err` says the store is unavailable, else null. */
export function unavailable(err: unknown, location: string): StoreError | null {
  if (err instanceof StoreError) return err;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const down =
    PG_UNAVAILABLE.test(code) || (code === '55000' && PG_NOT_ACCEPTING.test(message)) || NET_UNAVAILABLE.has(code) || SQLITE_UNAVAILABLE.test(code) || FS_UNAVAILABLE.has(code) || (!code && PG_CLIENT_GONE.test(message));
  return down ? new StoreError(`the store is unavailable (${location}): ${message.split('\n')[0]}`) : null;
}

function translate(location: string) {
  return (err: unknown): never => {
    throw unavailable(err, location) ?? err;
  };
}

/** Runs `fn`, translating what it throws or rejects with (better-sqlite3 throws synchronously). */
async function guard<T>(fn: () => Promise<T>, fail: (err: unknown) => never): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return fail(err);
  }
}

class GuardedConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly fail: (err: unknown) => never,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return guard(() => this.inner.executeQuery<R>(query), this.fail);
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      this.fail(err);
    }
  }
}

class GuardedDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly fail: (err: unknown) => never,
  ) {}

  init(): Promise<void> {
    return guard(() => this.inner.init(), this.fail);
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const conn = await guard(() => this.inner.acquireConnection(), this.fail);
    return new GuardedConnection(conn, this.fail);
  }
  beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return guard(() => this.inner.beginTransaction((conn as GuardedConnection).inner, settings), this.fail);
  }
  commitTransaction(conn: DatabaseConnection): Promise<void> {
    return guard(() => this.inner.commitTransaction((conn as GuardedConnection).inner), this.fail);
  }
  rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    return guard(() => this.inner.rollbackTransaction((conn as GuardedConnection).inner), this.fail);
  }
  releaseConnection(conn: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection((conn as GuardedConnection).inner);
  }
  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** `inner` with every store failure turned into a StoreError naming `location`. */
export function guarded(inner: Dialect, location: string): Dialect {
  const fail = translate(location);
  return {
    createDriver: () => new GuardedDriver(inner.createDriver(), fail),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db: Kysely<any>) => inner.createIntrospector(db), // eslint-disable-line @typescript-eslint/no-explicit-any
  };
}

// The store on SQL: SQLite (one file) or PostgreSQL, through Kysely. Engine differences stay
// here and in db.ts: how a transaction takes its lock, and how each engine reports a unique key
// already taken (turned into one UniqueViolation).
import type { Kysely } from 'kysely';
import { type Database, inTransaction } from './db.js';
import type { DB } from './schema.js';
import { type Store, type Stores, UniqueViolation } from './store.js';

/** A store on `database` whose feature stores `build` makes over a Kysely handle. */
export function sqlStore(database: Database, build: (q: Kysely<DB>) => Stores): Store {
  const read = build(database.db);
  return {
    ...read,
    kind: database.dialect,
    location: database.location,
    transaction: (fn) => inTransaction(database, (trx) => fn(build(trx))),
    close: () => database.close(),
  };
}

/** Runs an insert, turning "unique key already taken" (either engine) into UniqueViolation. */
export async function unique<T>(what: string, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UniqueViolation(what);
    throw err;
  }
}

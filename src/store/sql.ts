// The store on SQL: SQLite (one file) or PostgreSQL, through Kysely. Engine differences stay
// here and in db.ts: how a transaction takes its lock, and how each engine reports a unique key
// already taken (turned into one UniqueViolation). Also what runs once a transaction has
// committed (afterCommit), and whether the store is ready to serve (readiness).
import type { Kysely } from 'kysely';
import { type Database, inTransaction, type Readiness, readiness } from './db.js';
import type { DB } from './schema.js';
import { type Store, type Stores, UniqueViolation } from './store.js';

// The work waiting for each open transaction's commit, by the stores handed to it.
const committing = new WeakMap<Stores, Array<() => void>>();
const ready = new WeakMap<Store, () => Promise<Readiness>>();
const databases = new WeakMap<Store, Database>();

/** A store on `database` whose feature stores `build` makes over a Kysely handle. */
export function sqlStore(database: Database, build: (q: Kysely<DB>) => Stores): Store {
  const read = build(database.db);
  const store: Store = {
    ...read,
    kind: database.dialect,
    location: database.location,
    async transaction(fn) {
      let committed = () => {};
      // A transaction that fails throws here: what it queued after its commit never runs.
      const result = await inTransaction(database, (trx) => {
        const tx = build(trx);
        committed = trackCommit(tx);
        return fn(tx);
      });
      committed();
      return result;
    },
    close: () => database.close(),
  };
  ready.set(store, () => readiness(database));
  databases.set(store, database);
  return store;
}

/**
 * Runs `f` once the transaction `tx` belongs to has committed, and never if it rolls back (on
 * the stores outside a transaction, or a store without the hook, at once). For what must not
 * count a change that did not happen: shipgate's own metrics.
 */
export function afterCommit(tx: Stores, f: () => void): void {
  const then = committing.get(tx);
  if (then) then.push(f);
  else runQuietly(f);
}

/**
 * Starts collecting what afterCommit queues on `tx` (the stores one transaction hands to its
 * function); the function returned runs it, to be called once that transaction has committed.
 * Every store's transaction calls it (the memory store's too, once its function succeeded).
 */
export function trackCommit(tx: Stores): () => void {
  const then: Array<() => void> = [];
  committing.set(tx, then);
  return () => {
    committing.delete(tx);
    for (const f of then) runQuietly(f);
  };
}

function runQuietly(f: () => void): void {
  try {
    f();
  } catch {
    // What runs after a commit must never turn a committed change into an error.
  }
}

/**
 * How many open deployments (not yet ended) are in each state: one indexed count, cheap
 * enough for every metrics scrape. Null for a store in memory.
 */
export async function openDeploymentsByState(store: Store): Promise<Array<{ state: string; count: number }> | null> {
  const database = databases.get(store);
  if (!database) return null;
  const rows = await database.db
    .selectFrom('deployments')
    .select((eb) => ['state', eb.fn.countAll<number | string>().as('n')])
    .where('active_key', 'is not', null)
    .groupBy('state')
    .execute();
  return rows.map((r) => ({ state: r.state, count: Number(r.n) }));
}

/** Whether the store can serve: reachable, its schema up to date. A store in memory always is. */
export function readinessOf(store: Store): Promise<Readiness> {
  return ready.get(store)?.() ?? Promise.resolve({ ready: true });
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

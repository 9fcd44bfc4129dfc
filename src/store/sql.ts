// The store on SQL: SQLite (one file) or PostgreSQL, through Kysely. Engine differences stay
// here and in db.ts: how a transaction takes its lock, and how each engine reports a unique key
// already taken (turned into one UniqueViolation). Also the audit events a transaction records,
// appended together as its last writes (appendAtCommit), what runs once it has committed
// (afterCommit), and whether the store is ready to serve (readiness).
import type { Kysely } from 'kysely';
import type { AuditInput } from '../features/audit/log.js';
import { type Database, inTransaction, type Readiness, readiness } from './db.js';
import type { DB } from './schema.js';
import { type Store, type Stores, UniqueViolation } from './store.js';

// The work waiting for each open transaction's commit, by the stores handed to it.
const committing = new WeakMap<Stores, Array<() => void>>();
// The audit events each open transaction has recorded so far, by the stores handed to it.
const auditing = new WeakMap<Stores, AuditInput[]>();
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
      const result = await inTransaction(database, async (trx) => {
        const tx = build(trx);
        const tracked = trackCommit(tx);
        committed = tracked.committed;
        const out = await fn(tx);
        await tracked.appendAudit();
        return out;
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
 * Records `input` in the audit log of the transaction `tx` belongs to: appended with the
 * transaction's other events, in the order recorded, as its last writes before the commit (on
 * the stores outside a transaction, or a store without the hook, at once). One append per
 * transaction reads and moves the chain's head once; on PostgreSQL, where every appender waits
 * on the head row's lock, that lock is taken last and held only until the commit.
 */
export async function appendAtCommit(tx: Stores, input: AuditInput): Promise<void> {
  const pending = auditing.get(tx);
  if (pending) pending.push(input);
  else await tx.audit.append([input]);
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
 * Starts collecting what appendAtCommit and afterCommit queue on `tx` (the stores one
 * transaction hands to its function). Every store's transaction calls it, then `appendAudit`
 * inside the transaction once its function succeeded, and `committed` after the commit.
 */
export function trackCommit(tx: Stores): { appendAudit: () => Promise<void>; committed: () => void } {
  const then: Array<() => void> = [];
  const events: AuditInput[] = [];
  committing.set(tx, then);
  auditing.set(tx, events);
  return {
    appendAudit: async () => {
      auditing.delete(tx);
      if (events.length) await tx.audit.append(events);
    },
    committed: () => {
      committing.delete(tx);
      for (const f of then) runQuietly(f);
    },
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

/** The SQL database under `store`; undefined for a store in memory. */
export function databaseOf(store: Store): Database | undefined {
  return databases.get(store);
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

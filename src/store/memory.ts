// The store in memory: every table an array in one plain object. For fast tests of the
// features and the controller, and for dry runs; nothing survives the process. Transactions
// run one at a time (as SQLite's do) and put every table back as it was when they fail.
import { trackCommit } from './sql.js';
import type { Store, Stores } from './store.js';

export type MemoryTables = Record<string, unknown>;

/** The rows of one table, created empty on first use. */
export function table<T>(t: MemoryTables, name: string): T[] {
  if (!Array.isArray(t[name])) t[name] = [];
  return t[name] as T[];
}

/** The next id of a table's auto-numbered key. */
export function nextId(t: MemoryTables, name: string): number {
  const ids = (t.__ids ??= {}) as Record<string, number>;
  ids[name] = (ids[name] ?? 0) + 1;
  return ids[name];
}

export function memoryStore(build: (t: MemoryTables) => Stores, tables: MemoryTables = {}): Store {
  const stores = build(tables);
  let queue: Promise<unknown> = Promise.resolve();
  return {
    ...stores,
    kind: 'memory',
    location: 'memory',
    transaction<T>(fn: (tx: Stores) => Promise<T>): Promise<T> {
      const run = queue.then(async () => {
        const before = structuredClone(tables);
        // Its own object per transaction, so what is queued to run after commit (telemetry,
        // say) is this transaction's alone, and runs only if it succeeds.
        const tx: Stores = { ...stores };
        const { appendAudit, committed } = trackCommit(tx);
        try {
          const result = await fn(tx);
          await appendAudit();
          committed();
          return result;
        } catch (err) {
          for (const k of Object.keys(tables)) delete tables[k];
          Object.assign(tables, before);
          throw err;
        }
      });
      queue = run.catch(() => {});
      return run;
    },
    close: async () => {},
  };
}

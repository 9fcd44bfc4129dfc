// A fresh store of each kind for the tests that run on all of them: a SQLite file, a database
// on the throwaway PostgreSQL (SHIPGATE_TEST_DATABASE_URL), and memory. `count` reads how many
// rows a table holds, whatever the kind, so a test can say "nothing half-written".
import { inMemoryStore, sqlStoreOn } from '../../src/main.js';
import type { MemoryTables } from '../../src/store/memory.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabase, type StoreKind } from './databases.js';

export type AnyStoreKind = StoreKind | 'memory';
export const ALL_STORE_KINDS: AnyStoreKind[] = ['sqlite', 'postgres', 'memory'];

export type Table = 'releases' | 'deployments' | 'approvals' | 'audit_events';

export interface FreshStore {
  store: Store;
  count(table: Table): Promise<number>;
}

export async function freshStore(kind: AnyStoreKind): Promise<FreshStore> {
  if (kind === 'memory') {
    const tables: MemoryTables = {};
    return { store: inMemoryStore(tables), count: async (t) => (Array.isArray(tables[t]) ? (tables[t] as unknown[]).length : 0) };
  }
  const database = await freshDatabase(kind);
  return {
    store: sqlStoreOn(database),
    count: async (t) => Number((await database.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n),
  };
}

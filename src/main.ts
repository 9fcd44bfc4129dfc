// The composition root: the only place that knows every concrete class. It opens the store
// (SQLite, PostgreSQL or memory) and builds each feature's service on it; the server, the CLI
// and the tests all start from here. The HTTP operations are listed in server/operations.ts.
import type { Kysely } from 'kysely';
import type { ShipgateConfig } from './config/load.js';
import { AccessService } from './features/access/service.js';
import { MemoryAccessStore } from './features/access/memory-store.js';
import { SqlAccessStore } from './features/access/sql-store.js';
import { MemoryAuditStore } from './features/audit/memory-store.js';
import { AuditService } from './features/audit/service.js';
import { SqlAuditStore } from './features/audit/sql-store.js';
import { CoverageService } from './features/deployments/coverage.js';
import { MemoryGithubStore } from './features/github/memory-store.js';
import { SqlGithubStore } from './features/github/sql-store.js';
import { MemoryOutboxStore } from './features/notifications/memory-store.js';
import { SqlOutboxStore } from './features/notifications/sql-store.js';
import { DecisionService } from './features/deployments/decisions.js';
import { Lifecycle } from './features/deployments/lifecycle.js';
import { MemoryDeploymentStore } from './features/deployments/memory-store.js';
import { DeploymentService } from './features/deployments/service.js';
import { SqlDeploymentStore } from './features/deployments/sql-store.js';
import { Directory } from './features/directory.js';
import { FiguresService } from './features/figures/service.js';
import { ParityService } from './features/parity/service.js';
import { MemoryReleaseStore } from './features/releases/memory-store.js';
import { ReleaseService } from './features/releases/service.js';
import { SqlReleaseStore } from './features/releases/sql-store.js';
import { MemoryLeaseStore } from './features/rollouts/lease-memory.js';
import { SqlLeaseStore } from './features/rollouts/lease-sql.js';
import { RolloutService } from './features/rollouts/records.js';
import type { Targets } from './features/rollouts/targets.js';
import { StatusService } from './features/status/service.js';
import { type Database, type DatabaseOptions, openDatabase } from './store/db.js';
import { type MemoryTables, memoryStore } from './store/memory.js';
import type { DB } from './store/schema.js';
import { sqlStore } from './store/sql.js';
import type { Store } from './store/store.js';

export interface Shipgate {
  config: ShipgateConfig;
  store: Store;
  now: () => Date;
  directory: Directory;
  access: AccessService;
  releases: ReleaseService;
  deployments: DeploymentService;
  decisions: DecisionService;
  status: StatusService;
  audit: AuditService;
  rollouts: RolloutService;
  parity: ParityService;
  figures: FiguresService;
}

export function createShipgate(opts: { config: ShipgateConfig; store: Store; now?: () => Date }): Shipgate {
  const now = opts.now ?? (() => new Date());
  const { config, store } = opts;
  const directory = new Directory(config);
  // The drivers and sources (and zod, for their sections) load only when a policy asks for
  // monitoring coverage: most commands never need them.
  let targets: Targets | null = null;
  const coverage = new CoverageService(
    directory,
    async (d) => {
      if (!directory.rollsOut(d.environment)) return null;
      targets ??= (await import('./features/rollouts/targets.js')).targetsFor(config);
      return targets(d).metrics;
    },
    now,
  );
  const lifecycle = new Lifecycle(directory, now, coverage);
  const deployments = new DeploymentService(directory, store, lifecycle);
  return {
    config,
    store,
    now,
    directory,
    access: new AccessService(directory, store, now),
    releases: new ReleaseService(directory, store, now),
    deployments,
    decisions: new DecisionService(directory, store, lifecycle, deployments),
    status: new StatusService(directory, store, deployments, lifecycle),
    audit: new AuditService(store),
    rollouts: new RolloutService(directory, store, lifecycle, deployments),
    parity: new ParityService(directory, store),
    figures: new FiguresService(directory, store, now),
  };
}

/** The store on an open SQLite or PostgreSQL database. */
export function sqlStoreOn(database: Database): Store {
  return sqlStore(database, (q: Kysely<DB>) => ({
    releases: new SqlReleaseStore(q),
    deployments: new SqlDeploymentStore(q),
    access: new SqlAccessStore(q),
    audit: new SqlAuditStore(q, database.dialect),
    outbox: new SqlOutboxStore(q),
    github: new SqlGithubStore(q),
    leases: new SqlLeaseStore(q, database.dialect),
  }));
}

/** Opens (and migrates) SQLite or PostgreSQL. */
export async function openStore(opts: DatabaseOptions): Promise<Store> {
  return sqlStoreOn(await openDatabase(opts));
}

/** The store the config names: PostgreSQL when its url variable is set, else its SQLite file. */
export function openConfiguredStore(config: ShipgateConfig, env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  const url = env[config.store.urlEnv];
  return openStore(url ? { url } : { sqlitePath: config.store.sqlitePath });
}

/** A store in memory: fast tests and dry runs. */
export function inMemoryStore(tables: MemoryTables = {}): Store {
  return memoryStore((t) => ({
    releases: new MemoryReleaseStore(t),
    deployments: new MemoryDeploymentStore(t),
    access: new MemoryAccessStore(t),
    audit: new MemoryAuditStore(t),
    outbox: new MemoryOutboxStore(t),
    github: new MemoryGithubStore(t),
    leases: new MemoryLeaseStore(t),
  }), tables);
}


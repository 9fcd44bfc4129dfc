// The store as the features see it: one typed store per feature, and a transaction that
// gives all of them at once, so a change and its audit event commit or roll back together.
// Implemented on SQL (SQLite, PostgreSQL: store/sql.ts) and in memory (store/memory.ts).
import type { AccessStore } from '../features/access/store.js';
import type { GithubStore } from '../features/github/store.js';
import type { OutboxStore } from '../features/notifications/store.js';
import type { AuditStore } from '../features/audit/store.js';
import type { DeploymentStore } from '../features/deployments/store.js';
import type { ReleaseStore } from '../features/releases/store.js';
import type { LeaseStore } from '../features/rollouts/lease.js';
import { ConflictError } from '../errors.js';

export interface Stores {
  releases: ReleaseStore;
  deployments: DeploymentStore;
  access: AccessStore;
  audit: AuditStore;
  /** Notices to deliver, written in the same transaction as their audit event. */
  outbox: OutboxStore;
  /** GitHub deployment protection rule runs waiting for shipgate's answer. */
  github: GithubStore;
  /** Which replica drives which rollout (features/rollouts/lease.ts). */
  leases: LeaseStore;
}

export type StoreKind = 'sqlite' | 'postgres' | 'memory';

/** Reads go straight to the stores; writes go through `transaction`. */
export interface Store extends Stores {
  readonly kind: StoreKind;
  /** Where it lives, with any password removed: safe to print. */
  readonly location: string;
  /** Runs `fn` in one transaction; transactions never interleave their writes. */
  transaction<T>(fn: (tx: Stores) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Lost an optimistic-concurrency race: the row changed since it was read. Safe to retry. */
export class StaleRevisionError extends ConflictError {
  constructor(id: number) {
    super(`deployment ${id} was changed by someone else at the same time; try again`);
    this.name = 'StaleRevisionError';
  }
}

/** A row with the same unique key was written first (by a racing request). Safe to retry:
 * the next attempt reads it and answers from it. */
export class UniqueViolation extends ConflictError {
  constructor(what: string) {
    super(`${what} was written by someone else at the same time; look again`);
    this.name = 'UniqueViolation';
  }
}

const MAX_ATTEMPTS = 8;

/**
 * Runs a read-decide-write step again when another writer got in between: the row changed
 * (stale revision) or the row it was about to insert was inserted meanwhile (unique key).
 * The next attempt reads what the other writer committed and answers from it (409, or the
 * no-op a retry of the same thing is); still losing after that is a 409, never a 500.
 */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const raced = err instanceof StaleRevisionError || err instanceof UniqueViolation;
      if (!raced || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

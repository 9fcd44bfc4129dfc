// Rollout leases: with several shipgate replicas on one PostgreSQL, each deployment with
// rollout work is driven by one replica at a time, the holder of its lease row. The row carries
// a fencing token that grows on every takeover and an expiry set by the database's clock, so
// replicas whose clocks disagree still agree on who holds what. Every write of the rollout
// record checks holder and token in its own transaction (RolloutService.save), so a replica
// that was paused past its lease cannot write when it wakes up.
import { ConflictError } from '../../errors.js';

/** A lease as a replica holds it. Times are milliseconds since the epoch on the database's clock. */
export interface Lease {
  deploymentId: number;
  holder: string;
  token: number;
  expiresAt: number;
}

/** What a write of the rollout record must still find in the lease row. */
export interface Fence {
  deploymentId: number;
  holder: string;
  token: number;
}

/** An acquire that found the lease live in someone else's hands. */
export interface HeldElsewhere {
  holder: string;
  /** How long until it expires unless renewed, by the database's clock. */
  expiresInMs: number;
}

export type Acquired = { lease: Lease; previousHolder: string | null } | { heldBy: HeldElsewhere };

export interface LeaseStore {
  /** Takes the lease of a deployment when it has none, or its lease expired or was released:
   * the token grows by one. A live lease is never taken, not even one under the same holder
   * name. Run in a transaction (with the takeover's audit event). */
  acquire(deploymentId: number, holder: string, ttlMs: number): Promise<Acquired>;
  /** Extends the leases still held under these fences; returns the ones renewed. */
  renew(fences: Fence[], ttlMs: number): Promise<Lease[]>;
  /** Gives a lease up: expired at once (the token stays, so the next holder's is higher), or
   * its row removed when the deployment ended and will never be driven again. */
  release(fence: Fence, ended: boolean): Promise<void>;
  /** LeaseLost unless the row still has this holder and token; locks the row until the
   * transaction ends, so no takeover commits in between. Run in a transaction. */
  check(fence: Fence): Promise<void>;
  /** Those of these deployments whose lease is free to take: no row, expired or given up. */
  free(deploymentIds: number[]): Promise<number[]>;
  list(): Promise<Lease[]>;
}

/** A write under a lease another replica has taken over (or that was given up). */
export class LeaseLost extends ConflictError {
  constructor(fence: Fence, found: { holder: string; token: number } | null) {
    super(
      `deployment ${fence.deploymentId}: the rollout lease of ${fence.holder} (token ${fence.token}) is no longer held` +
        (found ? `; ${found.holder} holds it with token ${found.token}` : ''),
      { deploymentId: fence.deploymentId },
    );
    this.name = 'LeaseLost';
  }
}

/** The check shared by the stores: the row found must carry the fence's holder and token. */
export function assertFence(fence: Fence, row: { holder: string; token: number } | null): void {
  if (!row || row.holder !== fence.holder || row.token !== fence.token) throw new LeaseLost(fence, row);
}

export interface RolloutLeasesTable {
  deployment_id: number;
  holder: string;
  token: number;
  /** Milliseconds since the epoch, database clock. */
  taken_at: number;
  expires_at: number;
}

/** The leases' table (merged into the store's DB type). */
export interface LeaseTables {
  rollout_leases: RolloutLeasesTable;
}

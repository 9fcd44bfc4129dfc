// Rollout leases in memory, for fast tests and dry runs: one process, so "the database's clock"
// is the clock it is given. Rows are reached through `table()` on every call, so a failed memory
// transaction, which puts every table back, takes its lease changes with it.
import { type MemoryTables, table } from '../../store/memory.js';
import { type Acquired, assertFence, type Fence, type Lease, type LeaseStore } from './lease.js';

export class MemoryLeaseStore implements LeaseStore {
  constructor(
    private readonly t: MemoryTables,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  private get rows() {
    return table<Lease>(this.t, 'rollout_leases');
  }

  async acquire(deploymentId: number, holder: string, ttlMs: number): Promise<Acquired> {
    const now = this.clock();
    const found = this.rows.find((r) => r.deploymentId === deploymentId);
    if (!found) {
      const lease = { deploymentId, holder, token: 1, expiresAt: now + ttlMs };
      this.rows.push(lease);
      return { lease: { ...lease }, previousHolder: null };
    }
    if (found.expiresAt > now) return { heldBy: { holder: found.holder, expiresInMs: found.expiresAt - now } };
    const previousHolder = found.holder;
    Object.assign(found, { holder, token: found.token + 1, expiresAt: now + ttlMs });
    return { lease: { ...found }, previousHolder };
  }

  async renew(fences: Fence[], ttlMs: number): Promise<Lease[]> {
    const now = this.clock();
    const renewed: Lease[] = [];
    for (const f of fences) {
      const r = this.rows.find((x) => x.deploymentId === f.deploymentId && x.holder === f.holder && x.token === f.token);
      if (!r) continue;
      r.expiresAt = now + ttlMs;
      renewed.push({ ...r });
    }
    return renewed;
  }

  async release(fence: Fence, ended: boolean): Promise<void> {
    const i = this.rows.findIndex((x) => x.deploymentId === fence.deploymentId && x.holder === fence.holder && x.token === fence.token);
    if (i < 0) return;
    if (ended) this.rows.splice(i, 1);
    else this.rows[i].expiresAt = 0;
  }

  async check(fence: Fence): Promise<void> {
    assertFence(fence, this.rows.find((r) => r.deploymentId === fence.deploymentId) ?? null);
  }

  async free(deploymentIds: number[]): Promise<number[]> {
    const now = this.clock();
    return deploymentIds.filter((id) => !this.rows.some((r) => r.deploymentId === id && r.expiresAt > now));
  }

  async list(): Promise<Lease[]> {
    return this.rows.map((r) => ({ ...r })).sort((a, b) => a.deploymentId - b.deploymentId);
  }
}

// Rollout leases on SQLite and PostgreSQL, and their migration. Expiry is computed by the
// database's own clock (now() + ttl in the statement), never by the replica's. On PostgreSQL
// the row is locked (FOR UPDATE) by acquire and check; on SQLite every transaction already holds
// the one write lock (BEGIN IMMEDIATE).
import { type Kysely, type Migration, type RawBuilder, sql } from 'kysely';
import type { Dialect } from '../../store/migrations.js';
import type { DB } from '../../store/schema.js';
import { type Acquired, assertFence, type Fence, type Lease, type LeaseStore } from './lease.js';

/** Milliseconds since the epoch by the database's clock (clock_timestamp: not the transaction's start). */
function dbNow(dialect: Dialect): RawBuilder<number> {
  return dialect === 'postgres' ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint` : sql<number>`cast(unixepoch('subsec') * 1000 as integer)`;
}

function toLease(r: { deployment_id: number; holder: string; token: number; expires_at: number }): Lease {
  return { deploymentId: Number(r.deployment_id), holder: r.holder, token: Number(r.token), expiresAt: Number(r.expires_at) };
}

export class SqlLeaseStore implements LeaseStore {
  constructor(
    private readonly q: Kysely<DB>,
    private readonly dialect: Dialect,
  ) {}

  private row(deploymentId: number) {
    return this.q
      .selectFrom('rollout_leases')
      .select(['deployment_id', 'holder', 'token', 'expires_at', dbNow(this.dialect).as('db_now')])
      .where('deployment_id', '=', deploymentId)
      .$if(this.dialect === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
  }

  async acquire(deploymentId: number, holder: string, ttlMs: number): Promise<Acquired> {
    const now = dbNow(this.dialect);
    const found = await this.row(deploymentId);
    if (!found) {
      // Two replicas racing for a new row: the second insert does nothing and reads the first.
      const inserted = await this.q
        .insertInto('rollout_leases')
        .values({ deployment_id: deploymentId, holder, token: 1, taken_at: now, expires_at: sql<number>`${now} + ${ttlMs}` })
        .onConflict((oc) => oc.column('deployment_id').doNothing())
        .returning(['deployment_id', 'holder', 'token', 'expires_at'])
        .executeTakeFirst();
      if (inserted) return { lease: toLease(inserted), previousHolder: null };
      const other = await this.row(deploymentId);
      return { heldBy: { holder: other?.holder ?? 'another replica', expiresInMs: other ? Math.max(0, Number(other.expires_at) - Number(other.db_now)) : ttlMs } };
    }
    if (Number(found.expires_at) > Number(found.db_now)) return { heldBy: { holder: found.holder, expiresInMs: Number(found.expires_at) - Number(found.db_now) } };
    const taken = await this.q
      .updateTable('rollout_leases')
      .set({ holder, token: Number(found.token) + 1, taken_at: now, expires_at: sql<number>`${now} + ${ttlMs}` })
      .where('deployment_id', '=', deploymentId)
      .where('token', '=', Number(found.token))
      .returning(['deployment_id', 'holder', 'token', 'expires_at'])
      .executeTakeFirst();
    if (!taken) return { heldBy: { holder: 'another replica', expiresInMs: ttlMs } };
    return { lease: toLease(taken), previousHolder: found.holder };
  }

  async renew(fences: Fence[], ttlMs: number): Promise<Lease[]> {
    if (fences.length === 0) return [];
    const rows = await this.q
      .updateTable('rollout_leases')
      .set({ expires_at: sql<number>`${dbNow(this.dialect)} + ${ttlMs}` })
      .where((eb) => eb.or(fences.map((f) => eb.and([eb('deployment_id', '=', f.deploymentId), eb('holder', '=', f.holder), eb('token', '=', f.token)]))))
      .returning(['deployment_id', 'holder', 'token', 'expires_at'])
      .execute();
    return rows.map(toLease);
  }

  async release(fence: Fence, ended: boolean): Promise<void> {
    if (ended) {
      await this.q.deleteFrom('rollout_leases').where('deployment_id', '=', fence.deploymentId).where('holder', '=', fence.holder).where('token', '=', fence.token).execute();
    } else {
      await this.q.updateTable('rollout_leases').set({ expires_at: 0 }).where('deployment_id', '=', fence.deploymentId).where('holder', '=', fence.holder).where('token', '=', fence.token).execute();
    }
  }

  async check(fence: Fence): Promise<void> {
    const found = await this.row(fence.deploymentId);
    assertFence(fence, found ? { holder: found.holder, token: Number(found.token) } : null);
  }

  async free(deploymentIds: number[]): Promise<number[]> {
    if (deploymentIds.length === 0) return [];
    const live = await this.q
      .selectFrom('rollout_leases')
      .select('deployment_id')
      .where('deployment_id', 'in', deploymentIds)
      .where('expires_at', '>', dbNow(this.dialect))
      .execute();
    const held = new Set(live.map((r) => Number(r.deployment_id)));
    return deploymentIds.filter((id) => !held.has(id));
  }

  async list(): Promise<Lease[]> {
    return (await this.q.selectFrom('rollout_leases').selectAll().orderBy('deployment_id').execute()).map(toLease);
  }
}

export function leaseMigrations(dialect: Dialect): Record<string, Migration> {
  // Milliseconds since the epoch outgrow a 32-bit integer on PostgreSQL; SQLite's are 64-bit.
  const ms = dialect === 'postgres' ? ('bigint' as const) : ('integer' as const);
  return {
    '0310_rollout_leases': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('rollout_leases')
          .addColumn('deployment_id', 'integer', (c) => c.primaryKey().references('deployments.id'))
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('token', 'integer', (c) => c.notNull())
          .addColumn('taken_at', ms, (c) => c.notNull())
          .addColumn('expires_at', ms, (c) => c.notNull())
          .execute();
      },
    },
  };
}

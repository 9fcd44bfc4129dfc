// The deployments as the rollout controller sees them: what has rollout work, the record it
// persists after every action (with the deployment's state and the action's audit event, in
// one transaction), and a person's word to a rollout in progress (roll back, resume).
import { reasonOf, type RolloutRecord, stateOf } from '../../domain/rollout.js';
import type { Deployment } from '../../domain/types.js';
import type { RolloutContext } from '../../drivers/driver.js';
import { ConflictError, InputError } from '../../errors.js';
import { retrying, type Store } from '../../store/store.js';
import { type Actor, SYSTEM } from '../access/actor.js';
import type { AuditAction, AuditCatalogue } from '../audit/catalogue.js';
import { deploymentSubject, record } from '../audit/record.js';
import type { DeploymentService, DeploymentView } from '../deployments/service.js';
import { deploymentById, type Lifecycle } from '../deployments/lifecycle.js';
import type { Directory } from '../directory.js';
import { releaseById } from '../releases/service.js';
import type { Fence } from './lease.js';

/** An audit event the controller writes with a save. */
export type RolloutEvent = { [A in AuditAction]: { action: A; data: AuditCatalogue[A] } }[AuditAction];

export interface SaveOptions {
  event?: RolloutEvent;
  /** The lease the write is made under (replicas on PostgreSQL): checked in the save's own
   * transaction, LeaseLost and nothing written when another replica took it over. */
  fence?: Fence;
}

/** What the controller needs of the store: narrow, so it is tested on the memory store alone. */
export interface RolloutRecords {
  /** Deployments the controller has work on: approved or waiting in environments it rolls out
   * to, and those with a rollout in progress. */
  work(): Promise<Deployment[]>;
  get(id: number): Promise<Deployment>;
  /** Re-evaluates the gate of an approved deployment; its state and what it waits for. */
  admit(id: number): Promise<{ deployment: Deployment; waitingFor: string | null }>;
  /** Starts the rollout with its first record (refused unless approved and inside a window). */
  begin(id: number, first: RolloutRecord): Promise<Deployment>;
  /** Persists the record, the deployment state it stands for (stateOf) and the event, in one
   * transaction; StaleRevisionError if `d` changed since it was read, LeaseLost if its fence
   * no longer holds the lease. */
  save(d: Deployment, rec: RolloutRecord, opts?: SaveOptions): Promise<Deployment>;
  /** Where the driver acts: the versions and digests of canary and stable. */
  context(d: Deployment): Promise<RolloutContext>;
}

export class RolloutService implements RolloutRecords {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly deployments: DeploymentService,
  ) {}

  async work(): Promise<Deployment[]> {
    const managed = new Set(this.directory.config.environments.filter((e) => e.rollout).map((e) => e.name));
    if (managed.size === 0) return [];
    const open = await this.store.deployments.list({ states: ['approved', 'waiting_for_window', 'rolling_out', 'verifying', 'rolling_back'], limit: 1000 });
    return open.filter((d) => managed.has(d.environment) && (d.rollout !== null || d.state === 'approved' || d.state === 'waiting_for_window'));
  }

  get(id: number): Promise<Deployment> {
    return deploymentById(this.store, id);
  }

  async admit(id: number) {
    const { view } = await this.deployments.refresh(SYSTEM, id, { freshCoverage: true });
    return { deployment: view.deployment, waitingFor: view.waitingFor };
  }

  async begin(id: number, first: RolloutRecord): Promise<Deployment> {
    return (await this.deployments.start(SYSTEM, id, first)).deployment;
  }

  save(d: Deployment, rec: RolloutRecord, opts: SaveOptions = {}): Promise<Deployment> {
    const now = this.lifecycle.now;
    const to = stateOf(rec);
    const { fence } = opts;
    if (fence) rec = { ...rec, fence: fence.token };
    return this.store.transaction(async (tx) => {
      // First, so the lease row is locked before anything is written: a takeover waits for
      // this transaction, and this transaction fails whole if the takeover came first.
      if (fence) await tx.leases.check(fence);
      const next =
        to !== d.state
          ? await this.lifecycle.transition(tx, SYSTEM, d, to, reasonOf(rec), undefined, rec)
          : await tx.deployments.update(d, { rollout: rec, updatedAt: now().toISOString() });
      if (opts.event) await record(tx, now(), SYSTEM, opts.event.action, deploymentSubject(d), opts.event.data as never);
      return next;
    });
  }

  async context(d: Deployment): Promise<RolloutContext> {
    const [release, previous] = await Promise.all([releaseById(this.store, d.releaseId), d.previousReleaseId ? releaseById(this.store, d.previousReleaseId) : Promise.resolve(null)]);
    return {
      deploymentId: d.id,
      service: d.service,
      environment: d.environment,
      version: d.version,
      digest: release.digest,
      stableVersion: previous?.version ?? null,
      stableDigest: previous?.digest ?? null,
    };
  }

  /**
   * A person's word to a rollout in progress: `abort` rolls it back, `resume` continues a
   * paused one. The controller acts on it at its next step; the request itself is audited.
   * Who may: see DeploymentService.assertMayAct.
   */
  async request(actor: Actor, id: number, action: 'resume' | 'abort', reason: string | null = null): Promise<DeploymentView> {
    this.directory.assertUser(actor);
    if (action === 'abort' && !reason?.trim()) throw new InputError('a rollback needs a reason', { field: 'reason' });
    await retrying(() =>
      this.store.transaction(async (tx) => {
        const d = await deploymentById(tx, id);
        this.deployments.assertMayAct(actor, d, action === 'abort' ? 'roll back' : 'resume');
        if (!['rolling_out', 'verifying'].includes(d.state) || d.rollout === null) {
          throw new ConflictError(`deployment ${id} is ${d.state}: only a rollout in progress can be ${action === 'abort' ? 'rolled back' : 'resumed'}`);
        }
        const rec = d.rollout;
        if (action === 'resume' && rec.phase !== 'paused') throw new ConflictError(`deployment ${id} is not paused (phase ${rec.phase}); nothing to resume`);
        const next: RolloutRecord = { ...rec, request: action, requestReason: reason?.trim() ?? null, requestedBy: actor.user };
        await tx.deployments.update(d, { rollout: next, updatedAt: this.lifecycle.now().toISOString() });
        await record(tx, this.lifecycle.now(), actor, action === 'abort' ? 'rollout.abort_requested' : 'rollout.resume_requested', deploymentSubject(d), {
          reason: reason?.trim() ?? null,
          phase: rec.phase,
        });
      }),
    );
    return this.deployments.get(id);
  }

  /** Records a rollback rehearsal's outcome and figures in the audit log. */
  async recordRehearsal(actor: Actor, service: string, version: string, environment: string, report: Record<string, unknown>): Promise<void> {
    this.directory.assertUser(actor);
    await this.store.transaction((tx) => record(tx, this.lifecycle.now(), actor, 'rehearsal.completed', `release:${service}@${version}`, { environment, ...report }));
  }
}

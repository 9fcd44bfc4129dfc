// Deployments: a release requested into an environment, its gate evaluated at once and again
// on every change (and by the reconciler on a timer), cancelled, or handed to a rollout run
// elsewhere (start, complete). One open deployment per service and environment.
import { GATE_STATES, isFinal } from '../../domain/deployment.js';
import type { GateResult } from '../../domain/gate.js';
import { normalizeDigest } from '../../domain/release.js';
import type { RolloutRecord } from '../../domain/rollout.js';
import type { ChecklistTick, Deployment, DeploymentType, Release } from '../../domain/types.js';
import { ConflictError, ForbiddenError, InputError } from '../../errors.js';
import { retrying, type Store, type Stores } from '../../store/store.js';
import { takeTurn } from '../../store/turns.js';
import { type Actor, SYSTEM } from '../access/actor.js';
import { deploymentSubject, record } from '../audit/record.js';
import type { Directory } from '../directory.js';
import { releaseById, releaseNamed } from '../releases/service.js';
import { deploymentById, type Lifecycle, type Reevaluated } from './lifecycle.js';
import type { DeploymentFilter, StoredApproval } from './store.js';

export interface DeploymentRequest {
  service: string;
  version: string;
  environment: string;
  type?: DeploymentType;
  incident?: string | null;
  /** Digest of the artifact the pipeline is about to deploy; must equal the recorded one. */
  digest?: string | null;
}

export interface DeploymentView {
  deployment: Deployment;
  release: Release;
  approvals: StoredApproval[];
  ticks: ChecklistTick[];
  /** What the deployment waits for, in one sentence; null once it ended. */
  waitingFor: string | null;
}

/** A deployment and its gate as it stands now (null once past the gate). */
export interface Gated {
  view: DeploymentView;
  gate: GateResult | null;
}

export class DeploymentService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
  ) {}

  private get now() {
    return this.lifecycle.now;
  }

  /** The gate for a release as if it were requested now: nothing is written. */
  async check(actor: Actor, req: DeploymentRequest): Promise<GateResult> {
    this.directory.assertUser(actor);
    const r = this.validate(req);
    const release = await releaseNamed(this.store, r.service, r.version);
    const previous = await this.currentRelease(r.service, r.environment);
    await this.askCoverage(r.service, r.environment, release.version, previous);
    return this.lifecycle.evaluate(this.store, {
      release,
      environment: r.environment,
      type: r.type,
      incident: r.incident,
      requestedBy: actor.user,
      expectedDigest: r.digest,
      approvals: [],
      ticks: [],
      previousRelease: previous,
    });
  }

  async request(actor: Actor, req: DeploymentRequest): Promise<{ view: DeploymentView; gate: GateResult }> {
    this.directory.assertUser(actor);
    const r = this.validate(req);
    const policy = this.directory.policy(r.environment);
    if (r.type === 'hotfix' && policy.emergency.approvals.length === 0) {
      throw new InputError(`${r.environment} has no emergency approvers configured, so hotfixes cannot be requested there`);
    }
    if (this.lifecycle.probes(r.environment)) await this.askCoverage(r.service, r.environment, r.version, await this.currentRelease(r.service, r.environment));
    const evaluated = await this.store.transaction(async (tx) => {
      const open = await tx.deployments.findOpen(r.service, r.environment);
      if (open) {
        throw new ConflictError(`${r.service} already has deployment ${open.id} (${open.version}, ${open.state}) open in ${r.environment}; finish or cancel it first`, { deploymentId: open.id });
      }
      const release = await releaseNamed(tx, r.service, r.version);
      const now = this.now().toISOString();
      const previous = await this.currentRelease(r.service, r.environment, tx);
      const d = await tx.deployments
        .insert(
          {
            service: r.service,
            environment: r.environment,
            releaseId: release.id,
            version: release.version,
            type: r.type,
            incident: r.incident,
            state: 'requested',
            requestedBy: actor.user,
            requestedAt: now,
            updatedAt: now,
            reason: null,
            checks: [],
            previousReleaseId: previous?.id ?? null,
          },
          true,
        )
        .catch((err: unknown) => {
          // Lost the race to another request for the same service and environment.
          if (err instanceof ConflictError) throw new ConflictError(`${r.service} already has a deployment open in ${r.environment}; finish or cancel it first`);
          throw err;
        });
      await record(tx, this.now(), actor, 'deployment.requested', deploymentSubject(d), {
        service: d.service,
        environment: d.environment,
        version: d.version,
        digest: release.digest,
        type: d.type,
        incident: d.incident,
        expectedDigest: r.digest,
      });
      return this.lifecycle.reevaluateOn(tx, actor, d, r.digest);
    });
    // The answer is built from the rows the transaction read (the gate even once it passed).
    const { view } = await this.gatedFrom(evaluated, r.digest);
    return { view, gate: evaluated.gate ?? (await this.lifecycle.gateOf(this.store, view.deployment, r.digest)) };
  }

  /** Re-runs the gate of one open deployment now (soak passed, window opened, approvals lapsed...). */
  async refresh(actor: Actor, id: number, opts: { freshCoverage?: boolean } = {}): Promise<Gated> {
    this.directory.assertUser(actor);
    // Only where a policy requires metrics or security checks: otherwise a refresh reads nothing more than before.
    if (this.directory.config.environments.some((e) => this.lifecycle.probes(e.name))) {
      const before = await deploymentById(this.store, id);
      if (GATE_STATES.includes(before.state) && this.lifecycle.probes(before.environment)) {
        await this.askCoverage(before.service, before.environment, before.version, await this.currentRelease(before.service, before.environment), opts.freshCoverage);
      }
    }
    const evaluated = await retrying(() =>
      this.store.transaction(async (tx) => {
        const d = await deploymentById(tx, id);
        return GATE_STATES.includes(d.state) ? this.lifecycle.reevaluateOn(tx, actor, d, null) : null;
      }),
    );
    return evaluated ? this.gatedFrom(evaluated, null) : this.gated(id, null);
  }

  /** Refreshes every deployment still at the gate: the server runs this on a timer. */
  async reconcile(): Promise<number> {
    const open = await this.store.deployments.list({ states: [...GATE_STATES], limit: 1000 });
    let changed = 0;
    for (const d of open) {
      // On SQLite a refresh runs start to finish without yielding: let waiting requests in
      // between (src/store/turns.ts), or a thousand refreshes hold them up for a second or more.
      await takeTurn();
      const after = await this.refresh(SYSTEM, d.id).catch(() => null);
      if (after && after.view.deployment.state !== d.state) changed++;
    }
    return changed;
  }

  async cancel(actor: Actor, id: number, reason: string): Promise<DeploymentView> {
    this.directory.assertUser(actor);
    if (!reason?.trim()) throw new InputError('cancelling needs a reason', { field: 'reason' });
    await retrying(() =>
      this.store.transaction(async (tx) => {
        const d = await deploymentById(tx, id);
        this.assertMayAct(actor, d, 'cancel');
        if (!GATE_STATES.includes(d.state)) {
          throw new ConflictError(`deployment ${id} is ${d.state}: ${isFinal(d.state) ? 'it has already ended' : 'it is rolling out; roll it back instead'}`);
        }
        await this.lifecycle.transition(tx, actor, d, 'cancelled', reason.trim());
      }),
    );
    return this.get(id);
  }

  /**
   * Starts an approved deployment: the hook a rollout run elsewhere calls, and the controller's
   * first step (with its first record). Outside a window it parks the deployment in
   * waiting_for_window; otherwise it moves to rolling_out.
   */
  async start(actor: Actor, id: number, rollout: RolloutRecord | null = null): Promise<DeploymentView> {
    this.directory.assertUser(actor);
    await retrying(() =>
      this.store.transaction(async (tx) => {
        let d = await deploymentById(tx, id);
        this.assertMayAct(actor, d, 'start');
        if (actor.via !== 'system' && this.directory.rollsOut(d.environment)) {
          throw new ConflictError(
            `shipgate's controller rolls deployments out in ${d.environment} (its config has a rollout: section): it starts deployment ${id} once approved and inside a window; \`start\` is for rollouts run elsewhere`,
            { state: d.state },
          );
        }
        if (!GATE_STATES.includes(d.state)) throw new ConflictError(`deployment ${id} is ${d.state}: it cannot start`);
        d = await this.lifecycle.reevaluate(tx, actor, d, null);
        if (d.state !== 'approved') {
          throw new ConflictError(`deployment ${id} is ${d.state}: it starts once approved and inside a window (${this.lifecycle.waitingFor(d)})`);
        }
        await this.lifecycle.transition(tx, actor, d, 'rolling_out', null, undefined, rollout);
      }),
    );
    return this.get(id);
  }

  /** Records the end of a rollout run by a driver outside shipgate. */
  async complete(actor: Actor, id: number, outcome: 'succeeded' | 'failed', reason?: string | null): Promise<DeploymentView> {
    this.directory.assertUser(actor);
    if (outcome === 'failed' && !reason?.trim()) throw new InputError('a failed rollout needs a reason', { field: 'reason' });
    await retrying(() =>
      this.store.transaction(async (tx) => {
        let d = await deploymentById(tx, id);
        this.assertMayAct(actor, d, 'complete');
        if (this.directory.rollsOut(d.environment)) {
          throw new ConflictError(`shipgate's controller rolls deployment ${id} out in ${d.environment} and records its end itself; to stop it, roll it back (shipgate rollback ${id} --reason ...)`, {
            state: d.state,
          });
        }
        if (d.state !== 'rolling_out' && d.state !== 'verifying') throw new ConflictError(`deployment ${id} is ${d.state}: only a rolling-out deployment can complete`);
        if (outcome === 'succeeded') {
          if (d.state === 'rolling_out') d = await this.lifecycle.transition(tx, actor, d, 'verifying', null);
          await this.lifecycle.transition(tx, actor, d, 'succeeded', reason ?? null);
        } else {
          await this.lifecycle.transition(tx, actor, d, 'failed', reason!.trim());
        }
      }),
    );
    return this.get(id);
  }

  /**
   * Who may act on a deployment once requested (start, complete, cancel, roll back, resume):
   * the requester, anyone holding an approver role of its environment (normal or emergency),
   * and shipgate itself. In an environment without approver roles (auto-approving), any user
   * in the config, as anyone may request deployments there.
   */
  assertMayAct(actor: Actor, d: Deployment, what: string): void {
    if (actor.via === 'system' || d.requestedBy === actor.user) return;
    const policy = this.directory.policy(d.environment);
    const approverRoles = new Set([...policy.approvals, ...policy.emergency.approvals].map((r) => r.role));
    if (approverRoles.size === 0) return;
    if (this.directory.user(actor.user).roles.some((r) => approverRoles.has(r))) return;
    throw new ForbiddenError(
      `${actor.user} may not ${what} deployment ${d.id}: only its requester (${d.requestedBy}) or a holder of an approver role of ${d.environment} (${[...approverRoles].join(', ')}) may`,
    );
  }

  // ---- reading -----------------------------------------------------------------------------

  async get(id: number): Promise<DeploymentView> {
    const q = this.store;
    const deployment = await deploymentById(q, id);
    const [release, approvals, ticks] = await Promise.all([releaseById(q, deployment.releaseId), q.deployments.approvals(id), q.deployments.ticks(id)]);
    return { deployment, release, approvals, ticks, waitingFor: this.lifecycle.waitingFor(deployment) };
  }

  /** The deployment with its gate as it stands, while it is at the gate. */
  async gated(id: number, expectedDigest: string | null): Promise<Gated> {
    const view = await this.get(id);
    const atGate = GATE_STATES.includes(view.deployment.state);
    return { view, gate: atGate ? await this.lifecycle.gateOf(this.store, view.deployment, expectedDigest) : null };
  }

  /**
   * The gated answer of a transaction that just evaluated the gate, built from the rows it read
   * (and wrote) instead of reading them again; read again when it read none (it expired).
   */
  async gatedFrom(r: Reevaluated, expectedDigest: string | null): Promise<Gated> {
    if (!r.inputs) return this.gated(r.deployment.id, expectedDigest);
    const d = r.deployment;
    const view: DeploymentView = { deployment: d, release: r.inputs.release, approvals: r.inputs.approvals, ticks: r.inputs.ticks, waitingFor: this.lifecycle.waitingFor(d) };
    return { view, gate: GATE_STATES.includes(d.state) ? r.gate : null };
  }

  list(filter: DeploymentFilter = {}): Promise<Deployment[]> {
    if (filter.service) this.directory.service(filter.service);
    if (filter.environment) this.directory.policy(filter.environment);
    return this.store.deployments.list(filter);
  }

  /** The release serving in an environment now (its last succeeded deployment), or null. */
  /** Asks the environment's metrics source for the policy's required metrics and the service's
   * address for its security posture (outside any transaction: network calls); the gate reads
   * the answers. */
  private async askCoverage(service: string, environment: string, version: string, previous: Release | null, fresh = false): Promise<void> {
    await this.lifecycle.probe({ service, environment, canaryVersion: version, stableVersion: previous?.version ?? null }, fresh);
  }

  async currentRelease(service: string, environment: string, q: Stores = this.store): Promise<Release | null> {
    this.directory.service(service);
    this.directory.policy(environment);
    const d = await q.deployments.lastSucceeded(service, environment);
    return d ? releaseById(q, d.releaseId) : null;
  }

  private validate(req: DeploymentRequest) {
    const type = req.type ?? 'standard';
    if (!['standard', 'hotfix', 'rollback'].includes(type)) throw new InputError(`type must be standard, hotfix or rollback (got '${type}')`, { field: 'type' });
    this.directory.service(req.service);
    this.directory.policy(req.environment);
    const incident = req.incident?.trim() || null;
    if (type === 'hotfix' && !incident) throw new InputError('a hotfix must name the incident it fixes (--incident INC-123)', { field: 'incident' });
    return { service: req.service, version: req.version, environment: req.environment, type, incident, digest: req.digest ? normalizeDigest(req.digest) : null };
  }
}


// How a deployment moves: the gate evaluated on the facts the store holds, the state its
// outcome calls for, and each transition written with its audit event. Shared by the
// deployment, decision and rollout services; every function runs inside the caller's
// transaction.
import { GATE_STATES, isFinal, pathBetween, assertTransition } from '../../domain/deployment.js';
import { evaluateGate, type GateOutcome, type GateResult } from '../../domain/gate.js';
import type { RolloutRecord } from '../../domain/rollout.js';
import type { Approval, ChecklistTick, Deployment, DeploymentState, DeploymentType, Release, Verification } from '../../domain/types.js';
import { NotFoundError } from '../../errors.js';
import type { Stores } from '../../store/store.js';
import { type Actor, SYSTEM } from '../access/actor.js';
import { deploymentSubject, record } from '../audit/record.js';
import type { Directory } from '../directory.js';
import { releaseById } from '../releases/service.js';
import { settingsParity } from '../parity/service.js';
import type { CoverageService } from './coverage.js';
import { latestRehearsal } from './rehearsals.js';
import { SecurityService } from './security.js';
import { checksJson, type StoredApproval } from './store.js';

export interface GateFacts {
  release: Release;
  environment: string;
  type: DeploymentType;
  incident: string | null;
  requestedBy: string;
  expectedDigest: string | null;
  approvals: Approval[];
  ticks: ChecklistTick[];
  previousRelease: Release | null;
  /** The release's verifications when already read (a stored deployment's inputs); else read. */
  verifications?: Verification[];
}

/**
 * What the gate of a stored deployment reads from the store, read once per transaction: a
 * decision evaluates the gate before and after adding its approval, and answers with the
 * same rows, so it passes these along and adds what it writes instead of reading them again.
 */
export interface GateInputs {
  release: Release;
  /** Every approval on record, lapsed ones included, oldest first. */
  approvals: StoredApproval[];
  ticks: ChecklistTick[];
  previousRelease: Release | null;
  verifications: Verification[];
}

/** A deployment after a gate evaluation, with the gate and the inputs it was evaluated on. */
export interface Reevaluated {
  deployment: Deployment;
  /** Both null when the deployment expired before its gate was evaluated (and none were given). */
  gate: GateResult | null;
  inputs: GateInputs | null;
}

export class Lifecycle {
  constructor(
    readonly directory: Directory,
    readonly now: () => Date,
    /** The metrics sources' answers on required metrics; absent: nothing to ask (tests, no rollouts). */
    readonly coverage: CoverageService | null = null,
    /** The services' addresses as last requested (certificate, headers): policy.security. */
    readonly security: SecurityService = new SecurityService(directory, now),
  ) {}

  /**
   * Asks what the gate reads from the network — the metrics source (monitoring), the
   * service's address (security) — outside any transaction; the gate reads the answers kept.
   * `fresh`: ask even if the kept answer is recent (a person's refresh, a rollout's start).
   */
  async probe(d: { service: string; environment: string; canaryVersion: string; stableVersion: string | null }, fresh = false): Promise<void> {
    await Promise.all([this.coverage?.ensure(d, { fresh }), this.security.ensure(d, { fresh })]);
  }

  /** True when the environment's policy has checks that need `probe` before an evaluation. */
  probes(environment: string): boolean {
    const policy = this.directory.policy(environment);
    return policy.monitoring.length > 0 || Boolean(policy.security);
  }

  async evaluate(q: Stores, f: GateFacts): Promise<GateResult> {
    const policy = this.directory.policy(f.environment);
    const [verifications, ranBefore, rehearsal] = await Promise.all([
      f.verifications ?? q.releases.verifications(f.release.id),
      f.type === 'rollback' ? q.deployments.succeededWith(f.release.id, f.environment) : Promise.resolve(false),
      policy.rollbackRehearsal && f.type !== 'rollback' ? latestRehearsal(q, f.release.service, policy.rollbackRehearsal.environment) : Promise.resolve(null),
    ]);
    return evaluateGate({
      now: this.now(),
      environment: f.environment,
      policy,
      release: f.release,
      type: f.type,
      incident: f.incident,
      requestedBy: f.requestedBy,
      expectedDigest: f.expectedDigest,
      verifications,
      previousRelease: f.previousRelease,
      releaseRanHereBefore: ranBefore,
      approvals: f.approvals,
      ticks: f.ticks,
      coverage: this.coverage?.last(f.release.service, f.environment, f.previousRelease?.version ?? null) ?? null,
      rehearsal,
      security: policy.security ? this.security.last(f.release.service, f.environment) : null,
      // Settings are declared in the config (secrets read here and hashed): no network call.
      parity: policy.parity && f.type !== 'rollback' ? settingsParity(this.directory.config, policy.parity.against, f.environment) : null,
    });
  }

  /** Reads what the gate of a stored deployment is evaluated on. */
  async inputsOf(q: Stores, d: Deployment): Promise<GateInputs> {
    const [release, approvals, ticks, previousRelease, verifications] = await Promise.all([
      releaseById(q, d.releaseId),
      q.deployments.approvals(d.id),
      q.deployments.ticks(d.id),
      d.previousReleaseId ? releaseById(q, d.previousReleaseId) : Promise.resolve(null),
      q.releases.verifications(d.releaseId),
    ]);
    return { release, approvals, ticks, previousRelease, verifications };
  }

  /** The gate of a stored deployment as it stands now (lapsed approvals left out). */
  async gateOf(q: Stores, d: Deployment, expectedDigest: string | null, inputs?: GateInputs): Promise<GateResult> {
    const i = inputs ?? (await this.inputsOf(q, d));
    return this.evaluate(q, {
      release: i.release,
      environment: d.environment,
      type: d.type,
      incident: d.incident,
      requestedBy: d.requestedBy,
      expectedDigest,
      approvals: i.approvals.filter((a) => !a.lapsedAt),
      ticks: i.ticks,
      previousRelease: i.previousRelease,
      verifications: i.verifications,
    });
  }

  /**
   * Evaluates the gate of a deployment inside the caller's transaction and moves it to the
   * state the outcome calls for, auditing lapsed approvals, the evaluation and each move.
   */
  async reevaluate(tx: Stores, actor: Actor, d: Deployment, expectedDigest: string | null): Promise<Deployment> {
    return (await this.reevaluateOn(tx, actor, d, expectedDigest)).deployment;
  }

  /**
   * reevaluate on inputs already read in this transaction (read here when absent), kept
   * true to what it writes: approvals it marks lapsed are marked in `inputs` too. The caller
   * adds to `inputs` what it writes itself (an approval, a tick) before the next evaluation.
   * With `claim`, the deployment gets a new revision even when nothing about it changed: the
   * revision check then refuses a racing transaction that read the same rows.
   */
  async reevaluateOn(tx: Stores, actor: Actor, d: Deployment, expectedDigest: string | null, given?: GateInputs, claim = false): Promise<Reevaluated> {
    const policy = this.directory.policy(d.environment);
    const now = this.now();
    if (now.getTime() - Date.parse(d.requestedAt) >= policy.deploymentTtlMinutes * 60_000) {
      const expired = await this.transition(tx, SYSTEM, d, 'expired', `not started within ${policy.deploymentTtlMinutes} min of the request`);
      return { deployment: expired, gate: null, inputs: given ?? null };
    }
    const inputs = given ?? (await this.inputsOf(tx, d));
    const gate = await this.gateOf(tx, d, expectedDigest, inputs);
    for (const a of gate.approvals.expired) {
      const at = now.toISOString();
      await tx.deployments.markApprovalLapsed(a.id, at);
      const kept = inputs.approvals.find((k) => k.id === a.id);
      if (kept) kept.lapsedAt = at;
      await record(tx, now, SYSTEM, 'approval.expired', deploymentSubject(d), { approvalId: a.id, user: a.user, role: a.role, approvedAt: a.at, ttlMinutes: policy.approvalTtlMinutes });
    }
    const changed = gate.checks.length !== d.checks.length || gate.checks.some((c, i) => c.id !== d.checks[i].id || c.status !== d.checks[i].status);
    if (changed) {
      await record(tx, now, actor, 'gate.evaluated', deploymentSubject(d), {
        outcome: gate.outcome,
        checks: Object.fromEntries(gate.checks.map((c) => [c.id, c.status])),
        bypassed: gate.bypassed,
        ...(d.type === 'hotfix' ? { hotfix: { incident: d.incident } } : {}),
      });
    }
    const target = stateFor(gate.outcome);
    const reason = gate.outcome === 'rejected' || gate.outcome === 'failed' ? gate.summary : null;
    let current = d;
    if (target !== current.state) {
      for (const state of pathBetween(d.id, current.state, target)) {
        current = await this.transition(tx, actor, current, state, state === target ? reason : null, gate.checks);
      }
    } else if (changed || checksJson(gate.checks) !== checksJson(d.checks)) {
      current = await tx.deployments.update(current, { checks: gate.checks, updatedAt: now.toISOString() });
    } else if (claim) {
      current = await tx.deployments.update(current, { updatedAt: now.toISOString() });
    }
    return { deployment: current, gate, inputs };
  }

  async transition(tx: Stores, actor: Actor, d: Deployment, to: DeploymentState, reason: string | null, checks?: Deployment['checks'], rollout?: RolloutRecord | null): Promise<Deployment> {
    assertTransition(d.id, d.state, to);
    const next = await tx.deployments.update(d, {
      state: to,
      reason: reason ?? (isFinal(to) ? null : d.reason),
      checks,
      rollout,
      open: !isFinal(to),
      updatedAt: this.now().toISOString(),
    });
    await record(tx, this.now(), actor, 'deployment.state', deploymentSubject(d), {
      from: d.state,
      to,
      reason,
      type: d.type,
      ...(d.type === 'hotfix' ? { incident: d.incident } : {}),
    });
    return next;
  }

  /** What the deployment waits for, in one sentence; null once it ended. */
  waitingFor(d: Deployment): string | null {
    if (isFinal(d.state)) return null;
    if (d.state === 'approved') return 'the rollout to start';
    if (!GATE_STATES.includes(d.state)) return 'the rollout to finish';
    const open = d.checks.filter((c) => c.status === 'pending' || c.status === 'fail');
    return open.length ? open.map((c) => `${c.id}: ${c.reason}`).join('; ') : 'a gate evaluation';
  }
}

/** The state a gate outcome puts a deployment in. */
export function stateFor(outcome: GateOutcome): DeploymentState {
  switch (outcome) {
    case 'pass':
      return 'approved';
    case 'waiting_for_window':
      return 'waiting_for_window';
    case 'blocked':
      return 'awaiting_approval';
    case 'failed':
      return 'failed';
    case 'rejected':
      return 'rejected';
  }
}

export async function deploymentById(q: Stores, id: number): Promise<Deployment> {
  const d = await q.deployments.find(id);
  if (!d) throw new NotFoundError(`no deployment ${id}`);
  return d;
}

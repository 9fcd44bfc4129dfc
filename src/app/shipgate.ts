// Every operation shipgate offers, shared by the CLI (on a local store) and the HTTP API.
// Each state change is one transaction that writes the change and its audit events together.
import { createHash, randomBytes } from 'node:crypto';
import { appendAuditEvent, exportAuditJsonl, readAuditEvents, verifyStoredChain } from '../audit/log.js';
import type { ShipgateConfig } from '../config/load.js';
import { type ApproverUser, chooseApprovalRole, tallyApprovals } from '../domain/approvals.js';
import { assertTransition, GATE_STATES, isFinal, pathBetween } from '../domain/deployment.js';
import { evaluateGate, type GateOutcome, type GateResult } from '../domain/gate.js';
import { normalizeDigest, validateCommit, validateVersion } from '../domain/release.js';
import { summarizeReport } from '../domain/reports.js';
import type {
  Approval,
  ChecklistTick,
  Decision,
  Deployment,
  DeploymentState,
  DeploymentType,
  Policy,
  Release,
  ReportKind,
  ReportSummary,
} from '../domain/types.js';
import { ConflictError, ForbiddenError, InputError, NotFoundError, UnauthorizedError } from '../errors.js';
import { type Database, inTransaction } from '../store/db.js';
import * as repo from '../store/repository.js';
import type { DB } from '../store/schema.js';
import type { Kysely } from 'kysely';

/** Who is acting, and how they proved it. */
export interface Actor {
  user: string;
  via: 'token' | 'local' | 'system';
  /** On the local store the user is named, not proven (--as): the operating-system account
   * that ran the command, recorded with every audit event it writes. */
  osUser?: string;
}

export const SYSTEM: Actor = { user: 'shipgate', via: 'system' };

export interface ReportInput {
  name: string;
  content: string;
  kind?: ReportKind;
  format?: string;
}

export interface RegisterInput {
  service: string;
  version: string;
  digest: string;
  commit: string;
  builtAt?: string;
  reports?: ReportInput[];
}

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
  approvals: repo.StoredApproval[];
  ticks: ChecklistTick[];
  /** What the deployment waits for, in one sentence; null once it ended. */
  waitingFor: string | null;
}

export interface StatusCell {
  service: string;
  environment: string;
  current: { version: string; digest: string; releaseId: number } | null;
  open: { id: number; version: string; state: DeploymentState; type: DeploymentType; waitingFor: string | null } | null;
  /** The last rollout here ended with a failed rollback and nothing has ended since: where
   * traffic goes is not known, and a person has to look. */
  rollbackFailed: { id: number; version: string; reason: string | null; at: string } | null;
}

const MAX_RETRIES = 8;

export class Shipgate {
  readonly config: ShipgateConfig;
  readonly database: Database;
  private readonly clock: () => Date;

  constructor(opts: { config: ShipgateConfig; database: Database; now?: () => Date }) {
    this.config = opts.config;
    this.database = opts.database;
    this.clock = opts.now ?? (() => new Date());
  }

  now(): Date {
    return this.clock();
  }

  // ---- identity -----------------------------------------------------------------------------

  user(name: string): ApproverUser {
    const u = this.config.users.find((x) => x.name === name);
    if (!u) {
      throw new UnauthorizedError(`unknown user '${name}'; users are declared in ${this.config.file}`);
    }
    return u;
  }

  private assertUser(actor: Actor): void {
    if (actor.via !== 'system') this.user(actor.user);
  }

  service(name: string): void {
    if (!this.config.services.some((s) => s.name === name)) {
      throw new NotFoundError(`unknown service '${name}'; known: ${this.config.services.map((s) => s.name).join(', ')}`);
    }
  }

  policy(environment: string): Policy {
    const env = this.config.environments.find((e) => e.name === environment);
    if (!env) {
      throw new NotFoundError(
        `unknown environment '${environment}'; known: ${this.config.environments.map((e) => e.name).join(', ')}`,
      );
    }
    return env.policy;
  }

  /** True when shipgate's controller rolls deployments out in this environment. */
  rollsOut(environment: string): boolean {
    return Boolean(this.config.environments.find((e) => e.name === environment)?.rollout);
  }

  /**
   * Who may act on a deployment once requested (start, complete, cancel, roll back, resume):
   * the requester, anyone holding an approver role of its environment (normal or emergency),
   * and shipgate itself. In an environment without approver roles (auto-approving), any user
   * in the config, as anyone may request deployments there.
   */
  assertMayAct(actor: Actor, d: Deployment, what: string): void {
    if (actor.via === 'system' || d.requestedBy === actor.user) return;
    const policy = this.policy(d.environment);
    const approverRoles = new Set([...policy.approvals, ...policy.emergency.approvals].map((r) => r.role));
    if (approverRoles.size === 0) return;
    if (this.user(actor.user).roles.some((r) => approverRoles.has(r))) return;
    throw new ForbiddenError(
      `${actor.user} may not ${what} deployment ${d.id}: only its requester (${d.requestedBy}) or a holder of an approver role of ${d.environment} (${[...approverRoles].join(', ')}) may`,
    );
  }

  /** Creates an API token for a user; the plain token is returned once and only its hash is kept. */
  async createToken(actor: Actor, user: string, label: string): Promise<{ token: string; id: number }> {
    this.user(user);
    const token = `sg_${randomBytes(24).toString('base64url')}`;
    const at = this.now().toISOString();
    const created = await this.tx(async (trx) => {
      const t = await repo.insertToken(trx, user, label, sha256(token), at);
      await this.audit(trx, actor, 'token.created', `token:${t.id}`, { user, label });
      return t;
    });
    return { token, id: created.id };
  }

  async revokeToken(actor: Actor, id: number): Promise<void> {
    await this.tx(async (trx) => {
      if (!(await repo.revokeToken(trx, id, this.now().toISOString()))) {
        throw new NotFoundError(`no active token with id ${id}`);
      }
      await this.audit(trx, actor, 'token.revoked', `token:${id}`, {});
    });
  }

  listTokens(): Promise<repo.ApiToken[]> {
    return repo.listTokens(this.database.db);
  }

  /** The user a bearer token belongs to, or an UnauthorizedError that does not echo the token. */
  async authenticate(token: string | undefined): Promise<Actor> {
    if (!token) throw new UnauthorizedError('missing API token: send Authorization: Bearer <token>');
    const hash = sha256(token);
    const declared = this.config.users.find((u) => u.tokens?.some((x) => x.sha256 === hash));
    if (declared) return { user: declared.name, via: 'token' };
    const t = await repo.findTokenByHash(this.database.db, hash);
    if (!t || t.revokedAt) throw new UnauthorizedError('invalid or revoked API token');
    if (!this.config.users.some((u) => u.name === t.user)) {
      throw new UnauthorizedError(`the token's user '${t.user}' is no longer in the config`);
    }
    return { user: t.user, via: 'token' };
  }

  // ---- releases -----------------------------------------------------------------------------

  /**
   * Records a release. Registering the same build again (same version, digest, commit and no
   * new reports) is a no-op that succeeds, so a retried CI job passes; anything else under a
   * registered version, or the same digest under a second version, is refused.
   */
  async registerRelease(actor: Actor, input: RegisterInput): Promise<{ release: Release; alreadyRegistered: boolean }> {
    this.assertUser(actor);
    this.service(input.service);
    const version = validateVersion(input.version);
    const digest = normalizeDigest(input.digest);
    const commit = validateCommit(input.commit);
    const builtAt = input.builtAt ? isoTime(input.builtAt, 'builtAt') : this.now().toISOString();
    const reports = (input.reports ?? []).map(summarize);
    return this.retrying(() => this.tx(async (trx) => {
      const existing = await repo.findRelease(trx, input.service, version);
      if (existing) {
        if (existing.digest !== digest) {
          throw new ConflictError(
            `${input.service} ${version} is already registered with digest ${existing.digest}; a version names one build and cannot be re-registered with ${digest}`,
          );
        }
        // The same build again (a CI job retried): nothing to do, and nothing to fail.
        if (existing.commit !== commit) {
          throw new ConflictError(`${input.service} ${version} is already registered with commit ${existing.commit}, not ${commit}`, { releaseId: existing.id });
        }
        const known = new Set(existing.reports.map((r) => r.sha256));
        const other = reports.filter((r) => !known.has(r.sha256));
        if (other.length) {
          throw new ConflictError(
            `${input.service} ${version} is already registered, without ${other.map((r) => r.name).join(', ')}; add reports with \`shipgate release attach\``,
            { releaseId: existing.id },
          );
        }
        return { release: existing, alreadyRegistered: true };
      }
      const twin = await repo.findReleaseByDigest(trx, input.service, digest);
      if (twin) {
        throw new ConflictError(
          `${digest} is already registered as ${input.service} ${twin.version}; one build has one version (register a new build for ${version})`,
          { releaseId: twin.id },
        );
      }
      const release = await repo.insertRelease(trx, {
        service: input.service,
        version,
        digest,
        commit,
        builtAt,
        createdAt: this.now().toISOString(),
        createdBy: actor.user,
        reports,
      });
      await this.audit(trx, actor, 'release.registered', releaseSubject(release), {
        digest,
        commit,
        builtAt,
        reports: reports.map(reportAuditData),
      });
      return { release, alreadyRegistered: false };
    }));
  }

  async attachReports(actor: Actor, service: string, version: string, inputs: ReportInput[]): Promise<Release> {
    this.assertUser(actor);
    if (inputs.length === 0) throw new InputError('no report to attach');
    const added = inputs.map(summarize);
    return this.tx(async (trx) => {
      const release = await repo.getRelease(trx, service, version);
      const reports = [...release.reports, ...added];
      await repo.updateReleaseReports(trx, release.id, reports);
      await this.audit(trx, actor, 'release.reports_attached', releaseSubject(release), { reports: added.map(reportAuditData) });
      return { ...release, reports };
    });
  }

  getRelease(service: string, version: string): Promise<Release> {
    return repo.getRelease(this.database.db, service, version);
  }

  listReleases(service?: string): Promise<Release[]> {
    if (service) this.service(service);
    return repo.listReleases(this.database.db, service);
  }

  async verifyRelease(actor: Actor, service: string, version: string, environment: string, note?: string | null): Promise<Release> {
    this.assertUser(actor);
    this.policy(environment);
    return this.retrying(() => this.tx(async (trx) => {
      const release = await repo.getRelease(trx, service, version);
      const existing = await repo.verificationsOf(trx, release.id);
      if (existing.some((v) => v.environment === environment)) {
        throw new ConflictError(`${service} ${version} is already verified in ${environment}`);
      }
      const verifiedAt = this.now().toISOString();
      await repo.insertVerification(trx, { releaseId: release.id, environment, verifiedAt, verifiedBy: actor.user, note: note ?? null });
      await this.audit(trx, actor, 'release.verified', releaseSubject(release), { environment, note: note ?? null });
      return release;
    }));
  }

  verificationsOf(releaseId: number) {
    return repo.verificationsOf(this.database.db, releaseId);
  }

  // ---- the gate ------------------------------------------------------------------------------

  /** The gate for a release as if it were requested now: nothing is written. */
  async check(actor: Actor, req: DeploymentRequest): Promise<GateResult> {
    this.assertUser(actor);
    const r = this.validateRequest(req);
    const release = await repo.getRelease(this.database.db, r.service, r.version);
    return this.evaluate(this.database.db, {
      release,
      environment: r.environment,
      type: r.type,
      incident: r.incident,
      requestedBy: actor.user,
      expectedDigest: r.digest,
      approvals: [],
      ticks: [],
      previousRelease: await repo.currentRelease(this.database.db, r.service, r.environment),
    });
  }

  async requestDeployment(actor: Actor, req: DeploymentRequest): Promise<{ view: DeploymentView; gate: GateResult }> {
    this.assertUser(actor);
    const r = this.validateRequest(req);
    const policy = this.policy(r.environment);
    if (r.type === 'hotfix' && policy.emergency.approvals.length === 0) {
      throw new InputError(`${r.environment} has no emergency approvers configured, so hotfixes cannot be requested there`);
    }
    const id = await this.tx(async (trx) => {
      const open = await repo.findOpenDeployment(trx, r.service, r.environment);
      if (open) {
        throw new ConflictError(
          `${r.service} already has deployment ${open.id} (${open.version}, ${open.state}) open in ${r.environment}; finish or cancel it first`,
          { deploymentId: open.id },
        );
      }
      const release = await repo.getRelease(trx, r.service, r.version);
      const now = this.now().toISOString();
      const previous = await repo.currentRelease(trx, r.service, r.environment);
      let d: Deployment;
      try {
        d = await repo.insertDeployment(
          trx,
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
        );
      } catch (err) {
        // Lost the race to another request for the same service and environment.
        if (isUniqueViolation(err)) {
          throw new ConflictError(`${r.service} already has a deployment open in ${r.environment}; finish or cancel it first`);
        }
        throw err;
      }
      await this.audit(trx, actor, 'deployment.requested', deploymentSubject(d), {
        service: d.service,
        environment: d.environment,
        version: d.version,
        digest: release.digest,
        type: d.type,
        incident: d.incident,
        expectedDigest: r.digest,
      });
      await this.reevaluate(trx, actor, d, r.digest);
      return d.id;
    });
    const view = await this.getDeployment(id);
    return { view, gate: await this.gateOf(view, r.digest) };
  }

  /** Re-runs the gate of one open deployment now (soak passed, window opened, approvals lapsed...). */
  async refresh(actor: Actor, id: number): Promise<{ view: DeploymentView; gate: GateResult | null }> {
    this.assertUser(actor);
    await this.retrying(() =>
      this.tx(async (trx) => {
        const d = await repo.getDeployment(trx, id);
        if (GATE_STATES.includes(d.state)) await this.reevaluate(trx, actor, d, null);
      }),
    );
    const view = await this.getDeployment(id);
    return { view, gate: GATE_STATES.includes(view.deployment.state) ? await this.gateOf(view, null) : null };
  }

  /** Refreshes every deployment still at the gate: the server runs this on a timer. */
  async reconcile(): Promise<number> {
    const open = await repo.listDeployments(this.database.db, { states: [...GATE_STATES], limit: 1000 });
    let changed = 0;
    for (const d of open) {
      const before = d.state;
      const { view } = await this.refresh(SYSTEM, d.id).catch(() => ({ view: null }));
      if (view && view.deployment.state !== before) changed++;
    }
    return changed;
  }

  // ---- approvals and checklist --------------------------------------------------------------

  async decide(
    actor: Actor,
    id: number,
    input: { decision: Decision; comment?: string | null; role?: string | null },
  ): Promise<{ view: DeploymentView; gate: GateResult | null }> {
    const user = this.user(actor.user);
    const comment = input.comment?.trim() || null;
    if (input.decision === 'reject' && !comment) throw new InputError('a rejection needs a reason (comment)', { field: 'comment' });
    if (input.decision !== 'approve' && input.decision !== 'reject') {
      throw new InputError(`decision must be approve or reject (got '${String(input.decision)}')`, { field: 'decision' });
    }
    await this.retrying(() =>
      this.tx(async (trx) => {
        let d = await repo.getDeployment(trx, id);
        if (!GATE_STATES.includes(d.state)) {
          throw new ConflictError(`deployment ${id} is ${d.state}: it no longer takes approvals`, { state: d.state });
        }
        // Expiry is checked first, so approving a deployment that just expired is refused.
        d = await this.reevaluate(trx, SYSTEM, d, null);
        if (!GATE_STATES.includes(d.state)) {
          throw new ConflictError(`deployment ${id} is ${d.state}: it no longer takes approvals`, { state: d.state });
        }
        if (d.requestedBy === user.name) {
          throw new ForbiddenError(`${user.name} requested deployment ${id} and cannot approve or reject it`);
        }
        const policy = this.policy(d.environment);
        const rules = d.type === 'hotfix' ? policy.emergency.approvals : policy.approvals;
        const approvals = await repo.approvalsOf(trx, id);
        const tally = tallyApprovals({
          rules,
          approvals: approvals.filter((a) => !a.lapsedAt),
          requester: d.requestedBy,
          ttlMinutes: policy.approvalTtlMinutes,
          now: this.now(),
        });
        const chosen = chooseApprovalRole(user, rules, tally, input.role ?? null);
        if ('error' in chosen) throw new ForbiddenError(chosen.error);
        const mine = approvals.find((a) => a.user === user.name && !a.lapsedAt && a.decision === 'approve');
        if (mine && input.decision === 'approve') {
          throw new ConflictError(`${user.name} already approved deployment ${id} (as ${mine.role} at ${mine.at}); one person counts once`);
        }
        // Claim the deployment before adding to it: a decision that changes no check would
        // otherwise write no revision, and two racing copies of it (READ COMMITTED on
        // PostgreSQL reads the same approvals in both) would both land.
        d = await repo.updateDeployment(trx, d, { updatedAt: this.now().toISOString() });
        const at = this.now().toISOString();
        const approval = await repo.insertApproval(trx, {
          deploymentId: id,
          user: user.name,
          role: chosen.role,
          decision: input.decision,
          comment,
          at,
          authMethod: actor.via,
        });
        await this.audit(trx, actor, input.decision === 'approve' ? 'approval.approved' : 'approval.rejected', deploymentSubject(d), {
          approvalId: approval.id,
          role: chosen.role,
          comment,
          auth: actor.via,
          hotfix: d.type === 'hotfix',
        });
        await this.reevaluate(trx, actor, d, null);
      }),
    );
    const view = await this.getDeployment(id);
    return { view, gate: GATE_STATES.includes(view.deployment.state) ? await this.gateOf(view, null) : null };
  }

  async tick(actor: Actor, id: number, item: string, note?: string | null): Promise<DeploymentView> {
    const user = this.user(actor.user);
    await this.retrying(() =>
      this.tx(async (trx) => {
        let d = await repo.getDeployment(trx, id);
        if (!GATE_STATES.includes(d.state)) throw new ConflictError(`deployment ${id} is ${d.state}: its checklist is closed`);
        const policy = this.policy(d.environment);
        const def = policy.checklist.find((c) => c.id === item);
        if (!def) {
          throw new InputError(
            `no checklist item '${item}' in ${d.environment}; items: ${policy.checklist.map((c) => c.id).join(', ') || 'none'}`,
          );
        }
        if (def.evidence) {
          throw new InputError(`checklist item '${item}' is satisfied by an attached ${def.evidence} report, not by a tick`);
        }
        const ticks = await repo.ticksOf(trx, id);
        if (ticks.some((t) => t.item === item)) throw new ConflictError(`checklist item '${item}' of deployment ${id} is already ticked`);
        d = await repo.updateDeployment(trx, d, { updatedAt: this.now().toISOString() });
        await repo.insertTick(trx, { deploymentId: id, item, user: user.name, note: note ?? null, at: this.now().toISOString() });
        await this.audit(trx, actor, 'checklist.ticked', deploymentSubject(d), { item, note: note ?? null });
        await this.reevaluate(trx, actor, d, null);
      }),
    );
    return this.getDeployment(id);
  }

  async cancel(actor: Actor, id: number, reason: string): Promise<DeploymentView> {
    this.assertUser(actor);
    if (!reason?.trim()) throw new InputError('cancelling needs a reason', { field: 'reason' });
    await this.retrying(() =>
      this.tx(async (trx) => {
        const d = await repo.getDeployment(trx, id);
        this.assertMayAct(actor, d, 'cancel');
        if (!GATE_STATES.includes(d.state)) {
          throw new ConflictError(
            `deployment ${id} is ${d.state}: ${isFinal(d.state) ? 'it has already ended' : 'it is rolling out; roll it back instead'}`,
          );
        }
        await this.transition(trx, actor, d, 'cancelled', reason.trim());
      }),
    );
    return this.getDeployment(id);
  }

  /**
   * A person's word to a rollout in progress: `abort` rolls it back, `resume` continues a
   * paused one. The controller acts on it at its next step; the request itself is audited.
   * Who may: see assertMayAct.
   */
  async requestRolloutAction(actor: Actor, id: number, action: 'resume' | 'abort', reason: string | null = null): Promise<DeploymentView> {
    this.assertUser(actor);
    if (action === 'abort' && !reason?.trim()) throw new InputError('a rollback needs a reason', { field: 'reason' });
    await this.retrying(() =>
      this.tx(async (trx) => {
        const d = await repo.getDeployment(trx, id);
        this.assertMayAct(actor, d, action === 'abort' ? 'roll back' : 'resume');
        if (!['rolling_out', 'verifying'].includes(d.state) || d.rollout === null) {
          throw new ConflictError(`deployment ${id} is ${d.state}: only a rollout in progress can be ${action === 'abort' ? 'rolled back' : 'resumed'}`);
        }
        const record = d.rollout as { phase: string; request: string | null; requestReason?: string | null };
        if (action === 'resume' && record.phase !== 'paused') {
          throw new ConflictError(`deployment ${id} is not paused (phase ${record.phase}); nothing to resume`);
        }
        const next = { ...record, request: action, requestReason: reason?.trim() ?? null, requestedBy: actor.user };
        await repo.updateDeployment(trx, d, { rollout: next, updatedAt: this.now().toISOString() });
        await this.audit(trx, actor, `rollout.${action}_requested`, deploymentSubject(d), { reason: reason?.trim() ?? null, phase: record.phase });
      }),
    );
    return this.getDeployment(id);
  }

  /** The release serving in an environment now (its last succeeded deployment), or null. */
  currentRelease(service: string, environment: string): Promise<Release | null> {
    this.service(service);
    this.policy(environment);
    return repo.currentRelease(this.database.db, service, environment);
  }

  /** Records a rollback rehearsal's outcome and figures in the audit log. */
  async recordRehearsal(actor: Actor, service: string, version: string, environment: string, report: Record<string, unknown>): Promise<void> {
    this.assertUser(actor);
    await this.tx(async (trx) => {
      await this.audit(trx, actor, 'rehearsal.completed', `release:${service}@${version}`, { environment, ...report });
    });
  }

  // ---- hand-over to the rollout --------------------------------------------------------------

  /**
   * Starts an approved deployment: the hook a rollout driver calls. Outside a window it parks
   * the deployment in waiting_for_window; otherwise it moves to rolling_out, with the rollout
   * controller's first record when shipgate drives the rollout itself.
   */
  async start(actor: Actor, id: number, rollout: unknown = null): Promise<DeploymentView> {
    this.assertUser(actor);
    await this.retrying(() =>
      this.tx(async (trx) => {
        let d = await repo.getDeployment(trx, id);
        this.assertMayAct(actor, d, 'start');
        if (actor.via !== 'system' && this.rollsOut(d.environment)) {
          throw new ConflictError(
            `shipgate's controller rolls deployments out in ${d.environment} (its config has a rollout: section): it starts deployment ${id} once approved and inside a window; \`start\` is for rollouts run elsewhere`,
            { state: d.state },
          );
        }
        if (!GATE_STATES.includes(d.state)) throw new ConflictError(`deployment ${id} is ${d.state}: it cannot start`);
        d = await this.reevaluate(trx, actor, d, null);
        if (d.state !== 'approved') {
          throw new ConflictError(`deployment ${id} is ${d.state}: it starts once approved and inside a window (${this.waitingFor(d)})`);
        }
        await this.transition(trx, actor, d, 'rolling_out', null, undefined, rollout);
      }),
    );
    return this.getDeployment(id);
  }

  /**
   * Persists the rollout controller's record, optionally moving the deployment to another
   * state, with the audit events of both, in one transaction. Refused (StaleRevisionError)
   * when someone else changed the deployment since `d` was read.
   */
  async saveRollout(
    actor: Actor,
    d: Deployment,
    rollout: unknown,
    opts: { to?: DeploymentState; reason?: string | null; event?: { action: string; data: Record<string, unknown> } } = {},
  ): Promise<Deployment> {
    return this.tx(async (trx) => {
      let next: Deployment;
      if (opts.to && opts.to !== d.state) {
        next = await this.transition(trx, actor, d, opts.to, opts.reason ?? null, undefined, rollout);
      } else {
        next = await repo.updateDeployment(trx, d, { rollout, updatedAt: this.now().toISOString() });
      }
      if (opts.event) await this.audit(trx, actor, opts.event.action, deploymentSubject(d), opts.event.data);
      return next;
    });
  }

  releaseById(id: number): Promise<Release> {
    return repo.getReleaseById(this.database.db, id);
  }

  /** The deployment as stored, for the rollout controller. */
  deploymentRecord(id: number): Promise<Deployment> {
    return repo.getDeployment(this.database.db, id);
  }

  /** Deployments the rollout controller has work on: in environments it rolls out to. */
  async rolloutWork(): Promise<Deployment[]> {
    const managed = new Set(this.config.environments.filter((e) => e.rollout).map((e) => e.name));
    if (managed.size === 0) return [];
    const open = await repo.listDeployments(this.database.db, {
      states: ['approved', 'waiting_for_window', 'rolling_out', 'verifying', 'rolling_back'],
      limit: 1000,
    });
    return open.filter((d) => managed.has(d.environment) && (d.rollout !== null || d.state === 'approved' || d.state === 'waiting_for_window'));
  }

  /** Records the end of a rollout run by a driver outside shipgate. */
  async complete(actor: Actor, id: number, outcome: 'succeeded' | 'failed', reason?: string | null): Promise<DeploymentView> {
    this.assertUser(actor);
    if (outcome === 'failed' && !reason?.trim()) throw new InputError('a failed rollout needs a reason', { field: 'reason' });
    await this.retrying(() =>
      this.tx(async (trx) => {
        let d = await repo.getDeployment(trx, id);
        this.assertMayAct(actor, d, 'complete');
        if (this.rollsOut(d.environment)) {
          throw new ConflictError(
            `shipgate's controller rolls deployment ${id} out in ${d.environment} and records its end itself; to stop it, roll it back (shipgate rollback ${id} --reason ...)`,
            { state: d.state },
          );
        }
        if (d.state !== 'rolling_out' && d.state !== 'verifying') {
          throw new ConflictError(`deployment ${id} is ${d.state}: only a rolling-out deployment can complete`);
        }
        if (outcome === 'succeeded') {
          if (d.state === 'rolling_out') d = await this.transition(trx, actor, d, 'verifying', null);
          await this.transition(trx, actor, d, 'succeeded', reason ?? null);
        } else {
          await this.transition(trx, actor, d, 'failed', reason!.trim());
        }
      }),
    );
    return this.getDeployment(id);
  }

  // ---- reading -----------------------------------------------------------------------------

  async getDeployment(id: number): Promise<DeploymentView> {
    const q = this.database.db;
    const deployment = await repo.getDeployment(q, id);
    const [release, approvals, ticks] = await Promise.all([
      repo.getReleaseById(q, deployment.releaseId),
      repo.approvalsOf(q, id),
      repo.ticksOf(q, id),
    ]);
    return { deployment, release, approvals, ticks, waitingFor: this.waitingFor(deployment) };
  }

  listDeployments(filter: repo.DeploymentFilter = {}): Promise<Deployment[]> {
    if (filter.service) this.service(filter.service);
    if (filter.environment) this.policy(filter.environment);
    return repo.listDeployments(this.database.db, filter);
  }

  async status(): Promise<StatusCell[]> {
    const q = this.database.db;
    const cells: StatusCell[] = [];
    for (const s of this.config.services) {
      for (const e of this.config.environments) {
        const [current, open, [ended]] = await Promise.all([
          repo.currentRelease(q, s.name, e.name),
          repo.findOpenDeployment(q, s.name, e.name),
          repo.listDeployments(q, { service: s.name, environment: e.name, states: ['succeeded', 'rolled_back', 'rollback_failed'], limit: 1 }),
        ]);
        cells.push({
          service: s.name,
          environment: e.name,
          current: current ? { version: current.version, digest: current.digest, releaseId: current.id } : null,
          open: open
            ? { id: open.id, version: open.version, state: open.state, type: open.type, waitingFor: this.waitingFor(open) }
            : null,
          rollbackFailed:
            ended?.state === 'rollback_failed' ? { id: ended.id, version: ended.version, reason: ended.reason, at: ended.updatedAt } : null,
        });
      }
    }
    return cells;
  }

  waitingFor(d: Deployment): string | null {
    if (isFinal(d.state)) return null;
    if (d.state === 'approved') return 'the rollout to start';
    if (d.state === 'rolling_out' || d.state === 'verifying' || d.state === 'rolling_back') return 'the rollout to finish';
    const open = d.checks.filter((c) => c.status === 'pending' || c.status === 'fail');
    return open.length ? open.map((c) => `${c.id}: ${c.reason}`).join('; ') : 'a gate evaluation';
  }

  // ---- audit ---------------------------------------------------------------------------------

  auditEvents(q: { afterSeq?: number; limit?: number; subject?: string }) {
    return readAuditEvents(this.database.db, q);
  }

  verifyAudit() {
    return verifyStoredChain(this.database);
  }

  exportAudit(out: { write(chunk: string): unknown }) {
    return exportAuditJsonl(this.database, out);
  }

  // ---- internals ---------------------------------------------------------------------------

  private validateRequest(req: DeploymentRequest) {
    const type = req.type ?? 'standard';
    if (!['standard', 'hotfix', 'rollback'].includes(type)) {
      throw new InputError(`type must be standard, hotfix or rollback (got '${type}')`, { field: 'type' });
    }
    this.service(req.service);
    this.policy(req.environment);
    const incident = req.incident?.trim() || null;
    if (type === 'hotfix' && !incident) {
      throw new InputError('a hotfix must name the incident it fixes (--incident INC-123)', { field: 'incident' });
    }
    return {
      service: req.service,
      version: req.version,
      environment: req.environment,
      type,
      incident,
      digest: req.digest ? normalizeDigest(req.digest) : null,
    };
  }

  private async evaluate(
    q: Kysely<DB>,
    f: {
      release: Release;
      environment: string;
      type: DeploymentType;
      incident: string | null;
      requestedBy: string;
      expectedDigest: string | null;
      approvals: Approval[];
      ticks: ChecklistTick[];
      previousRelease: Release | null;
    },
  ): Promise<GateResult> {
    const policy = this.policy(f.environment);
    const [verifications, ranBefore] = await Promise.all([
      repo.verificationsOf(q, f.release.id),
      f.type === 'rollback' ? repo.releaseSucceededIn(q, f.release.id, f.environment) : Promise.resolve(false),
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
    });
  }

  private async gateOf(view: DeploymentView, expectedDigest: string | null): Promise<GateResult> {
    const d = view.deployment;
    return this.evaluate(this.database.db, {
      release: view.release,
      environment: d.environment,
      type: d.type,
      incident: d.incident,
      requestedBy: d.requestedBy,
      expectedDigest,
      approvals: view.approvals.filter((a) => !a.lapsedAt),
      ticks: view.ticks,
      previousRelease: d.previousReleaseId ? await repo.getReleaseById(this.database.db, d.previousReleaseId) : null,
    });
  }

  /**
   * Evaluates the gate of a deployment inside the caller's transaction and moves it to the
   * state the outcome calls for, auditing lapsed approvals, the evaluation and the move.
   */
  private async reevaluate(trx: Kysely<DB>, actor: Actor, d: Deployment, expectedDigest: string | null): Promise<Deployment> {
    const policy = this.policy(d.environment);
    const now = this.now();
    if (now.getTime() - Date.parse(d.requestedAt) >= policy.deploymentTtlMinutes * 60_000) {
      return this.transition(trx, SYSTEM, d, 'expired', `not started within ${policy.deploymentTtlMinutes} min of the request`);
    }
    const release = await repo.getReleaseById(trx, d.releaseId);
    const stored = await repo.approvalsOf(trx, d.id);
    const gate = await this.evaluate(trx, {
      release,
      environment: d.environment,
      type: d.type,
      incident: d.incident,
      requestedBy: d.requestedBy,
      expectedDigest,
      approvals: stored.filter((a) => !a.lapsedAt),
      ticks: await repo.ticksOf(trx, d.id),
      previousRelease: d.previousReleaseId ? await repo.getReleaseById(trx, d.previousReleaseId) : null,
    });
    for (const a of gate.approvals.expired) {
      await repo.markApprovalLapsed(trx, a.id, now.toISOString());
      await this.audit(trx, SYSTEM, 'approval.expired', deploymentSubject(d), {
        approvalId: a.id,
        user: a.user,
        role: a.role,
        approvedAt: a.at,
        ttlMinutes: policy.approvalTtlMinutes,
      });
    }
    const changed = JSON.stringify(gate.checks.map((c) => [c.id, c.status])) !== JSON.stringify(d.checks.map((c) => [c.id, c.status]));
    if (changed) {
      await this.audit(trx, actor, 'gate.evaluated', deploymentSubject(d), {
        outcome: gate.outcome,
        checks: Object.fromEntries(gate.checks.map((c) => [c.id, c.status])),
        bypassed: gate.bypassed,
        hotfix: d.type === 'hotfix' ? { incident: d.incident } : undefined,
      });
    }
    const target = stateFor(gate.outcome);
    const reason = gate.outcome === 'rejected' || gate.outcome === 'failed' ? gate.summary : null;
    let current = d;
    if (target !== current.state) {
      for (const state of pathBetween(d.id, current.state, target)) {
        current = await this.transition(trx, actor, current, state, state === target ? reason : null, gate.checks);
      }
    } else if (changed || JSON.stringify(gate.checks) !== JSON.stringify(d.checks)) {
      current = await repo.updateDeployment(trx, current, { checks: gate.checks, updatedAt: now.toISOString() });
    }
    return current;
  }

  private async transition(
    trx: Kysely<DB>,
    actor: Actor,
    d: Deployment,
    to: DeploymentState,
    reason: string | null,
    checks?: Deployment['checks'],
    rollout?: unknown,
  ): Promise<Deployment> {
    assertTransition(d.id, d.state, to);
    const next = await repo.updateDeployment(trx, d, {
      state: to,
      reason: reason ?? (isFinal(to) ? null : d.reason),
      checks,
      rollout,
      open: !isFinal(to),
      updatedAt: this.now().toISOString(),
    });
    await this.audit(trx, actor, 'deployment.state', deploymentSubject(d), {
      from: d.state,
      to,
      reason,
      type: d.type,
      ...(d.type === 'hotfix' ? { incident: d.incident } : {}),
    });
    return next;
  }

  private audit(trx: Kysely<DB>, actor: Actor, action: string, subject: string, data: Record<string, unknown>) {
    return appendAuditEvent(trx, this.database.dialect, {
      actor: actor.user,
      action,
      subject,
      data: { ...data, via: actor.via, ...(actor.osUser ? { osUser: actor.osUser } : {}) },
      at: this.now(),
    });
  }

  private tx<T>(fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
    return inTransaction(this.database, fn);
  }

  /**
   * Runs a read-decide-write step again when another writer got in between: the row changed
   * (stale revision) or the row it was about to insert was inserted meanwhile (a unique key).
   * The next attempt reads what the other writer committed and answers from it (409, or the
   * no-op a retry of the same thing is); a key still taken after that is a 409, never a 500.
   */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const raced = err instanceof repo.StaleRevisionError || isUniqueViolation(err);
        if (!raced) throw err;
        if (attempt >= MAX_RETRIES) {
          throw err instanceof repo.StaleRevisionError ? err : new ConflictError('someone else made the same change at the same time; look again');
        }
      }
    }
  }
}

function stateFor(outcome: GateOutcome): DeploymentState {
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

function summarize(r: ReportInput): ReportSummary {
  if (!r || typeof r.name !== 'string' || typeof r.content !== 'string') {
    throw new InputError('each report needs a name and its content as text', { field: 'reports' });
  }
  return summarizeReport({ name: r.name, content: r.content, kind: r.kind, format: r.format }, sha256(r.content));
}

function reportAuditData(r: ReportSummary) {
  return { name: r.name, kind: r.kind, format: r.format, sha256: r.sha256, vulnerabilities: r.vulnerabilities, tests: r.tests };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function isoTime(value: string, field: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InputError(`${field} must be an ISO-8601 time (got '${value}')`, { field });
  return new Date(t).toISOString();
}

function releaseSubject(r: Release): string {
  return `release:${r.service}@${r.version}`;
}

function deploymentSubject(d: Deployment): string {
  return `deployment:${d.id}`;
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

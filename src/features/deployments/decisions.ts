// People deciding on a deployment at the gate: approvals and rejections (N per role, distinct
// people, never the requester, expiring after the TTL; a rejection ends it with its reason)
// and ticks of the readiness checklist.
import { chooseApprovalRole, tallyApprovals } from '../../domain/approvals.js';
import { GATE_STATES } from '../../domain/deployment.js';
import type { Decision } from '../../domain/types.js';
import { ConflictError, ForbiddenError, InputError } from '../../errors.js';
import { retrying, type Store } from '../../store/store.js';
import { type Actor, SYSTEM } from '../access/actor.js';
import { deploymentSubject, record } from '../audit/record.js';
import type { Directory } from '../directory.js';
import { deploymentById, type Lifecycle } from './lifecycle.js';
import type { DeploymentService, DeploymentView, Gated } from './service.js';

export class DecisionService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly lifecycle: Lifecycle,
    private readonly deployments: DeploymentService,
  ) {}

  async decide(actor: Actor, id: number, input: { decision: Decision; comment?: string | null; role?: string | null }): Promise<Gated> {
    const user = this.directory.user(actor.user);
    const comment = input.comment?.trim() || null;
    if (input.decision !== 'approve' && input.decision !== 'reject') {
      throw new InputError(`decision must be approve or reject (got '${String(input.decision)}')`, { field: 'decision' });
    }
    if (input.decision === 'reject' && !comment) throw new InputError('a rejection needs a reason (comment)', { field: 'comment' });
    const now = () => this.lifecycle.now();
    // The gate's inputs are read once: evaluated before the approval (expiry, lapsed
    // approvals), the approval added to them in memory, evaluated again, and the answer built
    // from the same rows — the deployment's revision check makes them the ones committed.
    const evaluated = await retrying(() =>
      this.store.transaction(async (tx) => {
        let d = await deploymentById(tx, id);
        const closed = () => new ConflictError(`deployment ${id} is ${d.state}: it no longer takes approvals`, { state: d.state });
        if (!GATE_STATES.includes(d.state)) throw closed();
        const inputs = await this.lifecycle.inputsOf(tx, d);
        // Expiry is checked first, so approving a deployment that just expired is refused.
        d = (await this.lifecycle.reevaluateOn(tx, SYSTEM, d, null, inputs)).deployment;
        if (!GATE_STATES.includes(d.state)) throw closed();
        if (d.requestedBy === user.name) throw new ForbiddenError(`${user.name} requested deployment ${id} and cannot approve or reject it`);
        const policy = this.directory.policy(d.environment);
        const rules = d.type === 'hotfix' ? policy.emergency.approvals : policy.approvals;
        const approvals = inputs.approvals;
        const tally = tallyApprovals({ rules, approvals: approvals.filter((a) => !a.lapsedAt), requester: d.requestedBy, ttlMinutes: policy.approvalTtlMinutes, now: now() });
        const chosen = chooseApprovalRole(user, rules, tally, input.role ?? null);
        if ('error' in chosen) throw new ForbiddenError(chosen.error);
        const mine = approvals.find((a) => a.user === user.name && !a.lapsedAt && a.decision === 'approve');
        if (mine && input.decision === 'approve') {
          throw new ConflictError(`${user.name} already approved deployment ${id} (as ${mine.role} at ${mine.at}); one person counts once`);
        }
        const approval = await tx.deployments.insertApproval({ deploymentId: id, user: user.name, role: chosen.role, decision: input.decision, comment, at: now().toISOString(), authMethod: actor.via });
        inputs.approvals.push(approval);
        await record(tx, now(), actor, input.decision === 'approve' ? 'approval.approved' : 'approval.rejected', deploymentSubject(d), {
          approvalId: approval.id,
          role: chosen.role,
          comment,
          auth: actor.via,
          hotfix: d.type === 'hotfix',
        });
        // The deployment is claimed (a new revision) even by a decision that changes no check:
        // two racing copies of it (READ COMMITTED on PostgreSQL reads the same approvals in
        // both) would otherwise both land. The second waits on the row, finds the revision
        // moved, and is retried on what the first committed.
        return this.lifecycle.reevaluateOn(tx, actor, d, null, inputs, true);
      }),
    );
    return this.deployments.gatedFrom(evaluated, null);
  }

  async tick(actor: Actor, id: number, item: string, note?: string | null): Promise<DeploymentView> {
    const user = this.directory.user(actor.user);
    const now = () => this.lifecycle.now();
    await retrying(() =>
      this.store.transaction(async (tx) => {
        let d = await deploymentById(tx, id);
        if (!GATE_STATES.includes(d.state)) throw new ConflictError(`deployment ${id} is ${d.state}: its checklist is closed`);
        const policy = this.directory.policy(d.environment);
        const def = policy.checklist.find((c) => c.id === item);
        if (!def) throw new InputError(`no checklist item '${item}' in ${d.environment}; items: ${policy.checklist.map((c) => c.id).join(', ') || 'none'}`);
        if (def.evidence) throw new InputError(`checklist item '${item}' is satisfied by an attached ${def.evidence} report, not by a tick`);
        const ticks = await tx.deployments.ticks(id);
        if (ticks.some((t) => t.item === item)) throw new ConflictError(`checklist item '${item}' of deployment ${id} is already ticked`);
        d = await tx.deployments.update(d, { updatedAt: now().toISOString() });
        await tx.deployments.insertTick({ deploymentId: id, item, user: user.name, note: note ?? null, at: now().toISOString() });
        await record(tx, now(), actor, 'checklist.ticked', deploymentSubject(d), { item, note: note ?? null });
        await this.lifecycle.reevaluate(tx, actor, d, null);
      }),
    );
    return this.deployments.get(id);
  }
}

// The deployments store on SQLite or PostgreSQL.
import type { Kysely, Selectable } from 'kysely';
import type { Approval, ChecklistTick, CheckResult, Decision, Deployment, DeploymentState, DeploymentType } from '../../domain/types.js';
import type { DB } from '../../store/schema.js';
import { unique } from '../../store/sql.js';
import { StaleRevisionError } from '../../store/store.js';
import { activeKey, applyPatch, type DeploymentFilter, type DeploymentPatch, type DeploymentStore, type StoredApproval } from './store.js';

function toDeployment(r: Selectable<DB['deployments']>): Deployment {
  return {
    id: Number(r.id),
    service: r.service,
    environment: r.environment,
    releaseId: Number(r.release_id),
    version: r.version,
    type: r.type as DeploymentType,
    incident: r.incident,
    state: r.state as DeploymentState,
    rev: Number(r.rev),
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    updatedAt: r.updated_at,
    reason: r.reason,
    checks: JSON.parse(r.checks) as CheckResult[],
    previousReleaseId: r.previous_release_id === null ? null : Number(r.previous_release_id),
    rollout: r.rollout === null ? null : JSON.parse(r.rollout),
  };
}

function toApproval(r: Selectable<DB['approvals']>): StoredApproval {
  return {
    id: Number(r.id),
    deploymentId: Number(r.deployment_id),
    user: r.user_name,
    role: r.role,
    decision: r.decision as Decision,
    comment: r.comment,
    at: r.at,
    authMethod: r.auth_method,
    lapsedAt: r.lapsed_at,
  };
}

export class SqlDeploymentStore implements DeploymentStore {
  constructor(private readonly q: Kysely<DB>) {}

  async find(id: number) {
    const row = await this.q.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toDeployment(row) : null;
  }

  async findOpen(service: string, environment: string) {
    const row = await this.q.selectFrom('deployments').selectAll().where('active_key', '=', activeKey(service, environment)).executeTakeFirst();
    return row ? toDeployment(row) : null;
  }

  async list(f: DeploymentFilter) {
    let query = this.q.selectFrom('deployments').selectAll().orderBy('id', 'desc').limit(f.limit ?? 100);
    if (f.service) query = query.where('service', '=', f.service);
    if (f.environment) query = query.where('environment', '=', f.environment);
    if (f.states?.length) query = query.where('state', 'in', f.states);
    return (await query.execute()).map(toDeployment);
  }

  async insert(d: Omit<Deployment, 'id' | 'rev' | 'rollout'>, open: boolean) {
    const row = await unique(`a deployment of ${d.service} in ${d.environment}`, () =>
      this.q
        .insertInto('deployments')
        .values({
          service: d.service,
          environment: d.environment,
          release_id: d.releaseId,
          version: d.version,
          type: d.type,
          incident: d.incident,
          state: d.state,
          rev: 1,
          requested_by: d.requestedBy,
          requested_at: d.requestedAt,
          updated_at: d.updatedAt,
          reason: d.reason,
          checks: JSON.stringify(d.checks),
          previous_release_id: d.previousReleaseId,
          active_key: open ? activeKey(d.service, d.environment) : null,
          rollout: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toDeployment(row);
  }

  async update(d: Deployment, patch: DeploymentPatch) {
    const result = await this.q
      .updateTable('deployments')
      .set({
        ...(patch.state !== undefined ? { state: patch.state } : {}),
        ...(patch.reason !== undefined ? { reason: patch.reason } : {}),
        ...(patch.checks !== undefined ? { checks: JSON.stringify(patch.checks) } : {}),
        ...(patch.open !== undefined ? { active_key: patch.open ? activeKey(d.service, d.environment) : null } : {}),
        ...(patch.rollout !== undefined ? { rollout: patch.rollout === null ? null : JSON.stringify(patch.rollout) } : {}),
        updated_at: patch.updatedAt,
        rev: d.rev + 1,
      })
      .where('id', '=', d.id)
      .where('rev', '=', d.rev)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new StaleRevisionError(d.id);
    return applyPatch(d, patch);
  }

  async lastSucceeded(service: string, environment: string) {
    const row = await this.q
      .selectFrom('deployments')
      .selectAll()
      .where('service', '=', service)
      .where('environment', '=', environment)
      .where('state', '=', 'succeeded')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toDeployment(row) : null;
  }

  async succeededWith(releaseId: number, environment: string) {
    const row = await this.q
      .selectFrom('deployments')
      .select('id')
      .where('release_id', '=', releaseId)
      .where('environment', '=', environment)
      .where('state', '=', 'succeeded')
      .limit(1)
      .executeTakeFirst();
    return Boolean(row);
  }

  async approvals(deploymentId: number) {
    const rows = await this.q.selectFrom('approvals').selectAll().where('deployment_id', '=', deploymentId).orderBy('id').execute();
    return rows.map(toApproval);
  }

  async insertApproval(a: Omit<Approval, 'id'>) {
    const row = await this.q
      .insertInto('approvals')
      .values({
        deployment_id: a.deploymentId,
        user_name: a.user,
        role: a.role,
        decision: a.decision,
        comment: a.comment,
        at: a.at,
        auth_method: a.authMethod,
        lapsed_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toApproval(row);
  }

  async markApprovalLapsed(id: number, at: string) {
    await this.q.updateTable('approvals').set({ lapsed_at: at }).where('id', '=', id).execute();
  }

  async ticks(deploymentId: number) {
    const rows = await this.q.selectFrom('checklist_ticks').selectAll().where('deployment_id', '=', deploymentId).execute();
    return rows.map((r) => ({ deploymentId: Number(r.deployment_id), item: r.item, user: r.user_name, note: r.note, at: r.at }));
  }

  async insertTick(t: ChecklistTick) {
    await unique(`checklist item '${t.item}'`, () =>
      this.q.insertInto('checklist_ticks').values({ deployment_id: t.deploymentId, item: t.item, user_name: t.user, note: t.note, at: t.at }).execute(),
    );
  }
}

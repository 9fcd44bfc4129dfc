// The deployments store on SQLite or PostgreSQL.
import type { Kysely, QueryResult, Selectable } from 'kysely';
import type { Approval, ChecklistTick, CheckResult, Decision, Deployment, DeploymentState, DeploymentType } from '../../domain/types.js';
import { hot } from '../../store/hot.js';
import type { DB } from '../../store/schema.js';
import { unique } from '../../store/sql.js';
import { StaleRevisionError } from '../../store/store.js';
import { activeKey, applyPatch, checksFromJson, checksJson, type DeploymentFilter, type DeploymentPatch, type DeploymentStore, type StoredApproval } from './store.js';

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
    checks: checksFromJson(r.checks),
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

// The statements every approval runs (store/hot.ts).
const byId = hot('deployment by id', (q, id: number) => q.selectFrom('deployments').selectAll().where('id', '=', id));
const approvalsOf = hot('approvals of a deployment', (q, id: number) => q.selectFrom('approvals').selectAll().where('deployment_id', '=', id).orderBy('id'));
const ticksOf = hot('ticks of a deployment', (q, id: number) => q.selectFrom('checklist_ticks').selectAll().where('deployment_id', '=', id));
const insertApprovalRow = hot(
  'insert an approval',
  (q, deploymentId: number, user: string, role: string, decision: string, comment: string | null, at: string, authMethod: string, lapsedAt: null) =>
    q
      .insertInto('approvals')
      .values({ deployment_id: deploymentId, user_name: user, role, decision, comment, at, auth_method: authMethod, lapsed_at: lapsedAt })
      .returningAll(),
);
// An update sets the columns its patch names, so each set of names is its own statement; its
// arguments are those columns' values, then updated_at, the new rev, the id and the old rev.
type Column = 'state' | 'reason' | 'checks' | 'active_key' | 'rollout';
const updates = new Map<string, (q: Kysely<DB>, ...args: unknown[]) => Promise<QueryResult<unknown>>>();
function updateOf(columns: Column[]) {
  const key = columns.join(',');
  let run = updates.get(key);
  if (!run) {
    const n = columns.length;
    run = hot(`update deployment (${key})`, (q, ...a: unknown[]) =>
      q
        .updateTable('deployments')
        .set({ ...Object.fromEntries(columns.map((c, i) => [c, a[i]])), updated_at: a[n] as string, rev: a[n + 1] as number })
        .where('id', '=', a[n + 2] as number)
        .where('rev', '=', a[n + 3] as number),
    );
    updates.set(key, run);
  }
  return run;
}

export class SqlDeploymentStore implements DeploymentStore {
  constructor(private readonly q: Kysely<DB>) {}

  async find(id: number) {
    const row = (await byId(this.q, id)).rows[0];
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
          checks: checksJson(d.checks),
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
    const columns: Column[] = [];
    const values: unknown[] = [];
    const set = (c: Column, v: unknown) => {
      columns.push(c);
      values.push(v);
    };
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.reason !== undefined) set('reason', patch.reason);
    if (patch.checks !== undefined) set('checks', checksJson(patch.checks));
    if (patch.open !== undefined) set('active_key', patch.open ? activeKey(d.service, d.environment) : null);
    if (patch.rollout !== undefined) set('rollout', patch.rollout === null ? null : JSON.stringify(patch.rollout));
    const result = await updateOf(columns)(this.q, ...values, patch.updatedAt, d.rev + 1, d.id, d.rev);
    if (Number(result.numAffectedRows) !== 1) throw new StaleRevisionError(d.id);
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
    return (await approvalsOf(this.q, deploymentId)).rows.map(toApproval);
  }

  async insertApproval(a: Omit<Approval, 'id'>) {
    const { rows } = await insertApprovalRow(this.q, a.deploymentId, a.user, a.role, a.decision, a.comment, a.at, a.authMethod, null);
    return toApproval(rows[0]);
  }

  async markApprovalLapsed(id: number, at: string) {
    await this.q.updateTable('approvals').set({ lapsed_at: at }).where('id', '=', id).execute();
  }

  async ticks(deploymentId: number) {
    const { rows } = await ticksOf(this.q, deploymentId);
    return rows.map((r) => ({ deploymentId: Number(r.deployment_id), item: r.item, user: r.user_name, note: r.note, at: r.at }));
  }

  async insertTick(t: ChecklistTick) {
    await unique(`checklist item '${t.item}'`, () =>
      this.q.insertInto('checklist_ticks').values({ deployment_id: t.deploymentId, item: t.item, user_name: t.user, note: t.note, at: t.at }).execute(),
    );
  }
}

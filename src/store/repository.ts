// Reads and writes of releases, deployments, approvals and tokens, mapping rows to domain
// types. Every function takes the Kysely handle it runs on, so callers compose them inside
// one transaction (see inTransaction in db.ts).
import type { Kysely } from 'kysely';
import { ConflictError, NotFoundError } from '../errors.js';
import type {
  Approval,
  ChecklistTick,
  CheckResult,
  Decision,
  Deployment,
  DeploymentState,
  DeploymentType,
  Release,
  ReportSummary,
  Verification,
} from '../domain/types.js';
import type { DB } from './schema.js';

type Q = Kysely<DB>;

/** Lost an optimistic-concurrency race: the row changed since it was read. Safe to retry. */
export class StaleRevisionError extends ConflictError {
  constructor(id: number) {
    super(`deployment ${id} was changed by someone else at the same time; try again`);
    this.name = 'StaleRevisionError';
  }
}

// ---- releases ----------------------------------------------------------------------------

type ReleaseRow = {
  id: number;
  service: string;
  version: string;
  digest: string;
  commit_sha: string;
  built_at: string;
  created_at: string;
  created_by: string;
  reports: string;
};

function toRelease(r: ReleaseRow): Release {
  return {
    id: Number(r.id),
    service: r.service,
    version: r.version,
    digest: r.digest,
    commit: r.commit_sha,
    builtAt: r.built_at,
    createdAt: r.created_at,
    createdBy: r.created_by,
    reports: JSON.parse(r.reports) as ReportSummary[],
  };
}

export async function findRelease(q: Q, service: string, version: string): Promise<Release | null> {
  const row = await q.selectFrom('releases').selectAll().where('service', '=', service).where('version', '=', version).executeTakeFirst();
  return row ? toRelease(row) : null;
}

/** A release of this service built as `digest`, under whatever version. */
export async function findReleaseByDigest(q: Q, service: string, digest: string): Promise<Release | null> {
  const row = await q.selectFrom('releases').selectAll().where('service', '=', service).where('digest', '=', digest).orderBy('id').executeTakeFirst();
  return row ? toRelease(row) : null;
}

export async function getRelease(q: Q, service: string, version: string): Promise<Release> {
  const r = await findRelease(q, service, version);
  if (!r) throw new NotFoundError(`no release ${version} of ${service} is registered`);
  return r;
}

export async function getReleaseById(q: Q, id: number): Promise<Release> {
  const row = await q.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(`no release with id ${id}`);
  return toRelease(row);
}

export async function listReleases(q: Q, service?: string, limit = 100): Promise<Release[]> {
  let query = q.selectFrom('releases').selectAll().orderBy('id', 'desc').limit(limit);
  if (service) query = query.where('service', '=', service);
  return (await query.execute()).map(toRelease);
}

export async function insertRelease(q: Q, r: Omit<Release, 'id'>): Promise<Release> {
  const row = await q
    .insertInto('releases')
    .values({
      service: r.service,
      version: r.version,
      digest: r.digest,
      commit_sha: r.commit,
      built_at: r.builtAt,
      created_at: r.createdAt,
      created_by: r.createdBy,
      reports: JSON.stringify(r.reports),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRelease(row);
}

export async function updateReleaseReports(q: Q, id: number, reports: ReportSummary[]): Promise<void> {
  await q.updateTable('releases').set({ reports: JSON.stringify(reports) }).where('id', '=', id).execute();
}

export async function insertVerification(q: Q, v: Verification): Promise<void> {
  await q
    .insertInto('release_verifications')
    .values({ release_id: v.releaseId, environment: v.environment, verified_at: v.verifiedAt, verified_by: v.verifiedBy, note: v.note })
    .execute();
}

export async function verificationsOf(q: Q, releaseId: number): Promise<Verification[]> {
  const rows = await q.selectFrom('release_verifications').selectAll().where('release_id', '=', releaseId).execute();
  return rows.map((r) => ({
    releaseId: Number(r.release_id),
    environment: r.environment,
    verifiedAt: r.verified_at,
    verifiedBy: r.verified_by,
    note: r.note,
  }));
}

// ---- deployments ---------------------------------------------------------------------------

type DeploymentRow = {
  id: number;
  service: string;
  environment: string;
  release_id: number;
  version: string;
  type: string;
  incident: string | null;
  state: string;
  rev: number;
  requested_by: string;
  requested_at: string;
  updated_at: string;
  reason: string | null;
  checks: string;
  previous_release_id: number | null;
  active_key: string | null;
  rollout: string | null;
};

function toDeployment(r: DeploymentRow): Deployment {
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

export function activeKey(service: string, environment: string): string {
  return `${service}/${environment}`;
}

export async function findDeployment(q: Q, id: number): Promise<Deployment | null> {
  const row = await q.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toDeployment(row) : null;
}

export async function getDeployment(q: Q, id: number): Promise<Deployment> {
  const d = await findDeployment(q, id);
  if (!d) throw new NotFoundError(`no deployment ${id}`);
  return d;
}

export async function findOpenDeployment(q: Q, service: string, environment: string): Promise<Deployment | null> {
  const row = await q.selectFrom('deployments').selectAll().where('active_key', '=', activeKey(service, environment)).executeTakeFirst();
  return row ? toDeployment(row) : null;
}

export interface DeploymentFilter {
  service?: string;
  environment?: string;
  states?: DeploymentState[];
  limit?: number;
}

export async function listDeployments(q: Q, f: DeploymentFilter = {}): Promise<Deployment[]> {
  let query = q.selectFrom('deployments').selectAll().orderBy('id', 'desc').limit(f.limit ?? 100);
  if (f.service) query = query.where('service', '=', f.service);
  if (f.environment) query = query.where('environment', '=', f.environment);
  if (f.states?.length) query = query.where('state', 'in', f.states);
  return (await query.execute()).map(toDeployment);
}

export async function insertDeployment(q: Q, d: Omit<Deployment, 'id' | 'rev' | 'rollout'>, open: boolean): Promise<Deployment> {
  const row = await q
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
    .executeTakeFirstOrThrow();
  return toDeployment(row);
}

export interface DeploymentPatch {
  state?: DeploymentState;
  reason?: string | null;
  checks?: CheckResult[];
  open?: boolean;
  rollout?: unknown;
  updatedAt: string;
}

/** Writes a change only if nobody else changed the deployment since `expectedRev` was read. */
export async function updateDeployment(q: Q, d: Deployment, patch: DeploymentPatch): Promise<Deployment> {
  const result = await q
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
  return {
    ...d,
    state: patch.state ?? d.state,
    reason: patch.reason !== undefined ? patch.reason : d.reason,
    checks: patch.checks ?? d.checks,
    rollout: patch.rollout !== undefined ? patch.rollout : d.rollout,
    updatedAt: patch.updatedAt,
    rev: d.rev + 1,
  };
}

/** The release that last deployed successfully to the environment. */
export async function currentRelease(q: Q, service: string, environment: string): Promise<Release | null> {
  const row = await q
    .selectFrom('deployments')
    .select('release_id')
    .where('service', '=', service)
    .where('environment', '=', environment)
    .where('state', '=', 'succeeded')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? getReleaseById(q, Number(row.release_id)) : null;
}

export async function releaseSucceededIn(q: Q, releaseId: number, environment: string): Promise<boolean> {
  const row = await q
    .selectFrom('deployments')
    .select('id')
    .where('release_id', '=', releaseId)
    .where('environment', '=', environment)
    .where('state', '=', 'succeeded')
    .limit(1)
    .executeTakeFirst();
  return !!row;
}

// ---- approvals and checklist ---------------------------------------------------------------

type ApprovalRow = {
  id: number;
  deployment_id: number;
  user_name: string;
  role: string;
  decision: string;
  comment: string | null;
  at: string;
  auth_method: string;
  lapsed_at: string | null;
};

export interface StoredApproval extends Approval {
  lapsedAt: string | null;
}

function toApproval(r: ApprovalRow): StoredApproval {
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

export async function approvalsOf(q: Q, deploymentId: number): Promise<StoredApproval[]> {
  const rows = await q.selectFrom('approvals').selectAll().where('deployment_id', '=', deploymentId).orderBy('id').execute();
  return rows.map(toApproval);
}

export async function insertApproval(q: Q, a: Omit<Approval, 'id'>): Promise<StoredApproval> {
  const row = await q
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

export async function markApprovalLapsed(q: Q, id: number, at: string): Promise<void> {
  await q.updateTable('approvals').set({ lapsed_at: at }).where('id', '=', id).execute();
}

export async function ticksOf(q: Q, deploymentId: number): Promise<ChecklistTick[]> {
  const rows = await q.selectFrom('checklist_ticks').selectAll().where('deployment_id', '=', deploymentId).execute();
  return rows.map((r) => ({ deploymentId: Number(r.deployment_id), item: r.item, user: r.user_name, note: r.note, at: r.at }));
}

export async function insertTick(q: Q, t: ChecklistTick): Promise<void> {
  await q
    .insertInto('checklist_ticks')
    .values({ deployment_id: t.deploymentId, item: t.item, user_name: t.user, note: t.note, at: t.at })
    .execute();
}

// ---- API tokens -------------------------------------------------------------------------------

export interface ApiToken {
  id: number;
  user: string;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

export async function insertToken(q: Q, user: string, label: string, sha256: string, at: string): Promise<ApiToken> {
  const row = await q
    .insertInto('api_tokens')
    .values({ user_name: user, label, token_sha256: sha256, created_at: at, revoked_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), user: row.user_name, label: row.label, createdAt: row.created_at, revokedAt: row.revoked_at };
}

export async function findTokenByHash(q: Q, sha256: string): Promise<ApiToken | null> {
  const row = await q.selectFrom('api_tokens').selectAll().where('token_sha256', '=', sha256).executeTakeFirst();
  return row ? { id: Number(row.id), user: row.user_name, label: row.label, createdAt: row.created_at, revokedAt: row.revoked_at } : null;
}

export async function listTokens(q: Q): Promise<ApiToken[]> {
  const rows = await q.selectFrom('api_tokens').selectAll().orderBy('id').execute();
  return rows.map((row) => ({ id: Number(row.id), user: row.user_name, label: row.label, createdAt: row.created_at, revokedAt: row.revoked_at }));
}

export async function revokeToken(q: Q, id: number, at: string): Promise<boolean> {
  const r = await q.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

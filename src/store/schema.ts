// Kysely table types: one schema for SQLite and PostgreSQL. Times are ISO-8601 UTC strings,
// structured fields are JSON text, so both databases store and sort them the same way.
import type { Generated } from 'kysely';
import type { GithubTables } from '../features/github/store.js';
import type { NotificationTables } from '../features/notifications/store.js';
import type { LeaseTables } from '../features/rollouts/lease.js';

export interface ReleasesTable {
  id: Generated<number>;
  service: string;
  version: string;
  digest: string;
  commit_sha: string;
  built_at: string;
  created_at: string;
  created_by: string;
  reports: string; // JSON ReportSummary[]
}

export interface ReleaseVerificationsTable {
  release_id: number;
  environment: string;
  verified_at: string;
  verified_by: string;
  note: string | null;
}

export interface DeploymentsTable {
  id: Generated<number>;
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
  checks: string; // JSON CheckResult[]
  previous_release_id: number | null;
  /** "service/environment" while the deployment is open, NULL once it ends: unique, so only
   * one open deployment per service and environment can exist. */
  active_key: string | null;
  /** Rollout progress, owned by the rollout controller (JSON, null until it starts). */
  rollout: string | null;
}

export interface ApprovalsTable {
  id: Generated<number>;
  deployment_id: number;
  user_name: string;
  role: string;
  decision: string;
  comment: string | null;
  at: string;
  auth_method: string;
  /** Set when shipgate noticed the approval outlived the policy's TTL (and audited it). */
  lapsed_at: string | null;
}

export interface ChecklistTicksTable {
  deployment_id: number;
  item: string;
  user_name: string;
  note: string | null;
  at: string;
}

export interface AuditEventsTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  data: string; // canonical JSON
  prev_hash: string;
  hash: string;
}

/** One row (id = 1): the last sequence number and hash, so a deleted tail is noticed and
 * concurrent appends serialise on it. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_name: string;
  label: string;
  token_sha256: string;
  created_at: string;
  revoked_at: string | null;
}

export interface DB extends NotificationTables, GithubTables, LeaseTables {
  releases: ReleasesTable;
  release_verifications: ReleaseVerificationsTable;
  deployments: DeploymentsTable;
  approvals: ApprovalsTable;
  checklist_ticks: ChecklistTicksTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  api_tokens: ApiTokensTable;
}

// The shapes shipgate's domain speaks in: releases, policies, checks, approvals, deployments.
// Pure data; no I/O lives here.
import type { RolloutRecord } from './rollout.js';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'unknown';
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'unknown'];
export type VulnCounts = Record<Severity, number>;

export type ScanFormat = 'sarif' | 'trivy' | 'grype' | 'npm-audit';
export type ReportKind = 'scan' | 'tests';

/** What shipgate extracted from an attached report. */
export interface ReportSummary {
  kind: ReportKind;
  format: string; // scan format, or 'junit' for tests
  name: string; // file name as attached
  sha256: string; // of the report content
  vulnerabilities?: VulnCounts; // kind = scan
  tests?: { total: number; failures: number; errors: number; skipped: number }; // kind = tests
}

export interface Release {
  id: number;
  service: string;
  version: string;
  digest: string; // sha256:<64 hex>
  commit: string;
  builtAt: string; // ISO time
  createdAt: string;
  createdBy: string;
  reports: ReportSummary[];
}

/** A release marked verified in an environment (its tests there passed). */
export interface Verification {
  releaseId: number;
  environment: string;
  verifiedAt: string;
  verifiedBy: string;
  note: string | null;
}

// ---- calendars ---------------------------------------------------------------------------

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** A recurring weekly deployment window, in the calendar's timezone. end > start, same day. */
export interface WeeklyWindow {
  days: Weekday[];
  start: string; // "HH:MM"
  end: string; // "HH:MM"
}

/** A change freeze. Times are local to the calendar's timezone. */
export type Freeze =
  /** One-off range. from/to are "YYYY-MM-DD" (whole days, to inclusive) or "YYYY-MM-DDTHH:MM". */
  | { name: string; kind: 'once'; from: string; to: string; reason?: string }
  /** Every year, "MM-DD" to "MM-DD" inclusive; may wrap the new year (12-20 to 01-02). */
  | { name: string; kind: 'yearly'; from: string; to: string; reason?: string }
  /** Every week, "fri 15:00" to "mon 09:00"; may wrap the week. */
  | { name: string; kind: 'weekly'; from: string; to: string; reason?: string }
  /** Public holidays of a country (and optional region), whole local days. */
  | { name: string; kind: 'holidays'; country: string; region?: string; reason?: string };

export interface Calendar {
  timezone: string; // IANA zone, e.g. Europe/Amsterdam
  windows: WeeklyWindow[]; // empty: always open
  freezes: Freeze[];
}

// ---- policy ------------------------------------------------------------------------------

export interface ApprovalRule {
  role: string;
  count: number;
}

export interface ChecklistItem {
  id: string;
  text: string;
  /** Satisfied by an attached report of this kind (tests: zero failures). Otherwise a person ticks it. */
  evidence?: ReportKind;
}

export type BypassableCheck = 'window' | 'freeze' | 'soak' | 'verified';

export interface Policy {
  /** Only releases verified here may be requested; null: no such check. */
  requireVerifiedIn: string | null;
  /** Minimum minutes since verification in requireVerifiedIn; 0: none. */
  soakMinutes: number;
  /** Maximum allowed vulnerabilities per severity; a severity not listed is unlimited. */
  maxVulnerabilities: Partial<VulnCounts>;
  /** Require at least one scan report attached. */
  requireScan: boolean;
  /** Version strings refused as mutable tags (case-insensitive). */
  mutableTags: string[];
  /** 'required': fail when nothing can be rolled back to; 'warn': warn only; 'off'. */
  rollbackTarget: 'required' | 'warn' | 'off';
  checklist: ChecklistItem[];
  approvals: ApprovalRule[];
  approvalTtlMinutes: number; // an approval older than this no longer counts
  deploymentTtlMinutes: number; // an open deployment older than this expires
  autoApprove: boolean; // no human approvals needed when every check passes
  emergency: {
    approvals: ApprovalRule[];
    mayBypass: BypassableCheck[];
  };
  calendar: Calendar;
  /** Metrics that must exist in the environment's metrics source before a rollout starts
   * (monitoring coverage); empty: no such check. */
  monitoring: MonitoringRequirement[];
  /** A rollback rehearsal the policy requires: of any release of the service, in
   * `environment` (default: the previous environment), no older than maxAgeDays, its rollback
   * verified within sloSeconds; null or absent: no such check. */
  rollbackRehearsal?: { environment: string; maxAgeDays: number; sloSeconds: number } | null;
  /** HTTP(S) checks of the service's address (certificate, headers); null or absent: none. */
  security?: SecurityPolicy | null;
  /** Settings drift against another environment; null or absent: no such check. */
  parity?: ParityPolicy | null;
}

export type SecurityHeader = 'hsts' | 'csp' | 'x_frame_options';
export const SECURITY_HEADERS: readonly SecurityHeader[] = ['hsts', 'csp', 'x_frame_options'];

export interface SecurityPolicy {
  /** The address to probe per service; a service absent here is not probed (check skipped). */
  urls: Record<string, string>;
  minCertDays: number;
  require: SecurityHeader[];
  /** Strict-Transport-Security max-age must be at least this many seconds. */
  hstsMinMaxAgeSeconds: number;
  timeoutMs: number;
  /** Absolute path of a PEM CA bundle to trust besides the system's (private CAs); null: system only. */
  ca: string | null;
}

export interface ParityPolicy {
  /** The environment this one is compared with (default: the previous environment). */
  against: string;
  /** Settings (glob patterns, `*` any run of characters) that may differ without a word. */
  allow: string[];
  /** Settings whose drift fails the gate: patterns, or every setting not allowed. */
  critical: string[] | 'all_except_allowed';
}

/** A rollback rehearsal as recorded in the audit log (rehearsal.completed), reduced to what
 * the gate reads. */
export interface RehearsalFact {
  service: string;
  version: string;
  environment: string;
  /** When it was recorded (its audit event's time). */
  at: string;
  ok: boolean;
  /** Rollback decision → stable verified, in ms; null when the rollback did not finish. */
  msToVerified: number | null;
  problems: string[];
}

/** What one HTTPS request to a service's address showed, the last time it was made. */
export type SecurityProbe =
  | { at: string; url: string; error: string }
  | {
      at: string;
      url: string;
      status: number;
      /** The certificate the server presented; trusted: it chains to a trusted CA and names the host. */
      certificate: { trusted: boolean; problem: string | null; validTo: string | null; subject: string | null; issuer: string | null } | null;
      /** Response headers, lower-case names, as received (null: absent). */
      headers: { hsts: string | null; csp: string | null; xFrameOptions: string | null };
    };

/** A metric the policy requires: a standard one (requests, errors, latency) the source knows
 * how to ask for, or a named one with its own query (a business metric). */
export interface MonitoringRequirement {
  name: string;
  query: string | null;
}

/** What the metrics source said about the required metrics, the last time it was asked. */
export type MonitoringCoverage =
  | { at: string; source: string; results: { name: string; query: string; found: boolean; detail: string | null }[] }
  | { at: string; source: string; error: string };

// ---- checks ------------------------------------------------------------------------------

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'pending' | 'skipped';

export type CheckId =
  | 'verified'
  | 'soak'
  | 'vulnerabilities'
  | 'immutable'
  | 'window'
  | 'freeze'
  | 'rollback-target'
  | 'checklist'
  | 'monitoring'
  | 'rollback-rehearsal'
  | 'certificate'
  | 'security-headers'
  | 'parity'
  | 'approvals';

/** One gate condition, with its why. */
export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** A human sentence: what was found, against what, and what would make it pass. */
  reason: string;
  figure?: string | number | null;
  threshold?: string | number | null;
  /** When it passes by itself (ISO time), if known. */
  passesAt?: string | null;
  /** True when a hotfix passed this check by break-glass; the reason says what was bypassed. */
  bypassed?: boolean;
  /** 'fail' that no later event can fix (e.g. a vulnerability count in an immutable release). */
  final?: boolean;
}

// ---- approvals and deployments -------------------------------------------------------------

export type Decision = 'approve' | 'reject';

export interface Approval {
  id: number;
  deploymentId: number;
  user: string;
  role: string;
  decision: Decision;
  comment: string | null;
  at: string;
  authMethod: string; // 'token' | 'local'
}

export type DeploymentType = 'standard' | 'hotfix' | 'rollback';

export type DeploymentState =
  | 'requested'
  | 'checking'
  | 'awaiting_approval'
  | 'approved'
  | 'waiting_for_window'
  | 'rolling_out'
  | 'verifying'
  | 'succeeded'
  | 'rejected'
  | 'cancelled'
  | 'expired'
  | 'failed'
  | 'rolling_back'
  | 'rolled_back'
  | 'rollback_failed';

export interface ChecklistTick {
  deploymentId: number;
  item: string;
  user: string;
  note: string | null;
  at: string;
}

export interface Deployment {
  id: number;
  service: string;
  environment: string;
  releaseId: number;
  version: string; // release version, denormalised for display
  type: DeploymentType;
  incident: string | null;
  state: DeploymentState;
  /** Optimistic-concurrency counter; bumps on every change. */
  rev: number;
  requestedBy: string;
  requestedAt: string;
  updatedAt: string;
  reason: string | null; // why it ended (rejection, failure, cancel)
  checks: CheckResult[]; // the latest evaluation
  /** Release that was current in the environment when requested: the rollback target. */
  previousReleaseId: number | null;
  /** The rollout controller's persisted progress (domain/rollout.ts), null before it starts. */
  rollout: RolloutRecord | null;
}

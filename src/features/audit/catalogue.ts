// Every action the audit log records, with the shape of its data and when it is written. One
// type per action, so a new event is declared here before anything can write it, and
// docs/audit.md lists exactly these (test/features/audit/catalogue.test.ts holds it to that).
// Every event's data also carries `via` (token, local, system) and, for local, `osUser`.
import type { CheckStatus, DeploymentState, DeploymentType, ReportKind, VulnCounts } from '../../domain/types.js';
import type { CanaryReason } from '../../domain/canary.js';
import type { RollbackRecord, SmokeOutcome } from '../../domain/rollout.js';

export interface ReportAudit {
  name: string;
  kind: ReportKind;
  format: string;
  sha256: string;
  vulnerabilities?: VulnCounts;
  tests?: { total: number; failures: number; errors: number; skipped: number };
}

export interface AuditCatalogue {
  'token.created': { user: string; label: string };
  'token.revoked': Record<string, never>;
  'release.registered': { digest: string; commit: string; builtAt: string; reports: ReportAudit[] };
  'release.reports_attached': { reports: ReportAudit[] };
  'release.verified': { environment: string; note: string | null };
  'deployment.requested': { service: string; environment: string; version: string; digest: string; type: DeploymentType; incident: string | null; expectedDigest: string | null };
  'deployment.state': { from: DeploymentState; to: DeploymentState; reason: string | null; type: DeploymentType; incident?: string | null };
  'gate.evaluated': { outcome: string; checks: Record<string, CheckStatus>; bypassed: string[]; hotfix?: { incident: string | null } };
  'approval.approved': { approvalId: number; role: string; comment: string | null; auth: string; hotfix: boolean };
  'approval.rejected': { approvalId: number; role: string; comment: string | null; auth: string; hotfix: boolean };
  'approval.expired': { approvalId: number; user: string; role: string; approvedAt: string; ttlMinutes: number };
  'checklist.ticked': { item: string; note: string | null };
  'rollout.deployed': { version: string };
  'rollout.weight': { step: number; weight: number };
  'rollout.smoke': { step: number; weight: number; results: SmokeOutcome[] };
  'rollout.step_passed': { step: number; weight: number; message: string };
  'rollout.paused': { step: number; weight: number; reasons: CanaryReason[] };
  'rollout.resume_requested': { reason: string | null; phase: string };
  'rollout.abort_requested': { reason: string | null; phase: string };
  'rollout.promoted': { version: string };
  'rollout.verified': { check: number; results: SmokeOutcome[] };
  'rollout.succeeded': { durationMs: number };
  'rollout.rollback_decided': { trigger: string; reason: string; weight: number; step: number };
  'rollout.rolled_back': RollbackRecord;
  'rollout.rollback_failed': RollbackRecord;
  'rehearsal.completed': { environment: string } & Record<string, unknown>;
  'migration.ran': MigrationRun;
  'rollout.lease_taken': { holder: string; token: number; previousHolder: string | null };
  'evidence.exported': { sha256: string; files: number; keyId: string };
  'audit.checkpoint': { seq: number; hash: string; keyId: string };
}

/** One run of a service's migration command (up or down), with the record counts around it. */
export interface MigrationRun {
  environment: string;
  version: string;
  direction: 'up' | 'down';
  ok: boolean;
  durationMs: number;
  countBefore: number | null;
  countAfter: number | null;
  /** Why it ran: before the canary, after a rollback, or in a rehearsal. */
  during: 'rollout' | 'rollback' | 'rehearsal';
  error: string | null;
}

export type AuditAction = keyof AuditCatalogue;

/** What each action's subject names, and when the event is written: the rows of docs/audit.md. */
export const AUDIT_ACTIONS: Record<AuditAction, { subject: string; when: string }> = {
  'token.created': { subject: 'token:<id>', when: 'an API token was created for a user (its value is never recorded)' },
  'token.revoked': { subject: 'token:<id>', when: 'an API token was revoked' },
  'release.registered': { subject: 'release:<service>@<version>', when: 'a release was recorded: digest, commit, build time, report summaries' },
  'release.reports_attached': { subject: 'release:<service>@<version>', when: 'reports were attached to a release' },
  'release.verified': { subject: 'release:<service>@<version>', when: 'a release was marked verified in an environment (starts the soak clock)' },
  'deployment.requested': { subject: 'deployment:<id>', when: 'a deployment was requested' },
  'deployment.state': { subject: 'deployment:<id>', when: 'a deployment moved from one state to another, with the reason' },
  'gate.evaluated': { subject: 'deployment:<id>', when: 'the gate was evaluated and a check changed status' },
  'approval.approved': { subject: 'deployment:<id>', when: 'a person approved, with role and comment' },
  'approval.rejected': { subject: 'deployment:<id>', when: 'a person rejected, with role and reason' },
  'approval.expired': { subject: 'deployment:<id>', when: 'an approval outlived the policy TTL and no longer counts' },
  'checklist.ticked': { subject: 'deployment:<id>', when: 'a person ticked a readiness checklist item' },
  'rollout.deployed': { subject: 'deployment:<id>', when: 'the canary was deployed, taking no traffic yet' },
  'rollout.weight': { subject: 'deployment:<id>', when: 'a step set the canary weight' },
  'rollout.smoke': { subject: 'deployment:<id>', when: 'smoke tests passed at a step' },
  'rollout.step_passed': { subject: 'deployment:<id>', when: 'the analysis passed a step' },
  'rollout.paused': { subject: 'deployment:<id>', when: 'the analysis was still inconclusive at the step limit: paused for a person' },
  'rollout.resume_requested': { subject: 'deployment:<id>', when: 'a person asked a paused rollout to go on' },
  'rollout.abort_requested': { subject: 'deployment:<id>', when: 'a person asked for a rollback, with the reason' },
  'rollout.promoted': { subject: 'deployment:<id>', when: 'the canary took all traffic; post-deploy verification starts' },
  'rollout.verified': { subject: 'deployment:<id>', when: 'a post-deploy check passed' },
  'rollout.succeeded': { subject: 'deployment:<id>', when: 'the rollout ended well, with its duration' },
  'rollout.rollback_decided': { subject: 'deployment:<id>', when: 'a rollback was decided, with its trigger and reason' },
  'rollout.rolled_back': { subject: 'deployment:<id>', when: 'traffic is back on stable and verified, with both timings' },
  'rollout.rollback_failed': { subject: 'deployment:<id>', when: 'the rollback could not be done or verified: where traffic goes is not known' },
  'rehearsal.completed': { subject: 'release:<service>@<version>', when: 'a rollback rehearsal ended, with its report and timings' },
  'migration.ran': { subject: 'deployment:<id> or release:<service>@<version>', when: "a service's migration ran up or down (before the canary, after a rollback, in a rehearsal), with record counts before and after" },
  'rollout.lease_taken': { subject: 'deployment:<id>', when: 'a shipgate replica took over driving a rollout (its fencing token)' },
  'evidence.exported': { subject: 'deployment:<id>', when: "an evidence package was exported: its manifest's sha256 and the signing key" },
  'audit.checkpoint': { subject: 'audit', when: "a signed checkpoint of the chain's head was written" },
};

/** The table of docs/audit.md: one row per action. */
export function catalogueTable(): string {
  const rows = Object.entries(AUDIT_ACTIONS).map(([action, a]) => `| \`${action}\` | \`${a.subject}\` | ${a.when} |`);
  return ['| action | subject | written when |', '| --- | --- | --- |', ...rows].join('\n');
}

// Small builders of domain data for tests: a production-like policy and a release.
import type { Approval, Policy, Release, ReportSummary, Verification } from '../../src/domain/types.js';

export function productionPolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    requireVerifiedIn: 'staging',
    soakMinutes: 60,
    maxVulnerabilities: { critical: 0 },
    requireScan: false,
    mutableTags: ['latest', 'prod', 'stable', 'main'],
    rollbackTarget: 'required',
    checklist: [],
    approvals: [
      { role: 'devops-lead', count: 1 },
      { role: 'tech-lead', count: 1 },
    ],
    approvalTtlMinutes: 24 * 60,
    deploymentTtlMinutes: 72 * 60,
    autoApprove: false,
    emergency: { approvals: [{ role: 'vp-engineering', count: 1 }], mayBypass: ['window', 'freeze', 'soak'] },
    calendar: { timezone: 'UTC', windows: [], freezes: [] },
    monitoring: [],
    ...overrides,
  };
}

export function release(overrides: Partial<Release> = {}): Release {
  return {
    id: 1,
    service: 'web',
    version: '1.4.2',
    digest: `sha256:${'ab'.repeat(32)}`,
    commit: 'deadbeef',
    builtAt: '2026-11-20T09:00:00.000Z',
    createdAt: '2026-11-20T09:05:00.000Z',
    createdBy: 'ci',
    reports: [],
    ...overrides,
  };
}

export function scan(counts: Partial<Record<'critical' | 'high' | 'medium' | 'low' | 'unknown', number>>, name = 'trivy.json'): ReportSummary {
  return {
    kind: 'scan',
    format: 'trivy',
    name,
    sha256: '0'.repeat(64),
    vulnerabilities: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0, ...counts },
  };
}

export function testReport(total: number, failures: number, name = 'junit.xml'): ReportSummary {
  return { kind: 'tests', format: 'junit', name, sha256: '1'.repeat(64), tests: { total, failures, errors: 0, skipped: 0 } };
}

export function verified(environment: string, at: string, by = 'qa'): Verification {
  return { releaseId: 1, environment, verifiedAt: at, verifiedBy: by, note: null };
}

let nextApproval = 1;
export function approval(user: string, role: string, at: string, decision: 'approve' | 'reject' = 'approve', comment: string | null = null): Approval {
  return { id: nextApproval++, deploymentId: 1, user, role, decision, comment, at, authMethod: 'token' };
}

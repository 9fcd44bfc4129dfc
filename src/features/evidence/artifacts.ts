// What goes into an evidence package, as a list of producers: each reads what shipgate holds
// about the deployment (gathered once into an EvidenceSource) and returns one file, or null when
// shipgate has nothing of that kind. A new artifact (staging parity, migration status, ...) is
// one more producer appended to ARTIFACT_PRODUCERS; the manifest and the signature cover it
// without further change.
import type { RolloutRecord } from '../../domain/rollout.js';
import type { ParityReport } from '../../domain/parity.js';
import type { Deployment, Policy } from '../../domain/types.js';
import type { AuditEvent, VerifyResult } from '../audit/chain.js';
import type { DeploymentView } from '../deployments/service.js';
import type { Envelope } from './dsse.js';

export interface Artifact {
  /** A plain file name (no directories), unique in the package. */
  name: string;
  bytes: Uint8Array;
}

/** Everything the producers read, gathered before any of them runs. */
export interface EvidenceSource {
  view: DeploymentView;
  policy: Policy;
  /** The environment the release had to pass before this one (policy or config order). */
  previousEnvironment: string | null;
  /** The release's deployments in the previous environment, oldest first. */
  previousDeployments: Deployment[];
  /** Audit events by subject: `deployment:<id>` (this and the previous ones) and `release:<service>@<version>`. */
  events: Map<string, AuditEvent[]>;
  /** The newest `rehearsal.completed` of this release, or of the service's newest release that has one. */
  rehearsal: AuditEvent | null;
  head: { seq: number; hash: string };
  /** The whole chain verified when the package was made. */
  chain: VerifyResult;
  /** A signed checkpoint of `head`. */
  checkpoint: Envelope;
  /** Settings and running versions of the previous environment against this one; null when
   * there is no previous environment. Secrets appear only as same / differs. */
  parity: ParityReport | null;
  /** When the package was made. */
  at: Date;
}

export type ArtifactProducer = (src: EvidenceSource) => Artifact | null | Promise<Artifact | null>;

function json(name: string, value: unknown): Artifact {
  return { name, bytes: Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8') };
}

function eventsOf(src: EvidenceSource, subject: string): AuditEvent[] {
  return src.events.get(subject) ?? [];
}

function releaseSubjectOf(src: EvidenceSource): string {
  return `release:${src.view.release.service}@${src.view.release.version}`;
}

/** The rollout record without the analysis's internal state and the metrics cursor. */
function rolloutSummary(r: RolloutRecord | null) {
  if (!r) return null;
  const { analysis: _analysis, cursor: _cursor, ...rest } = r;
  return rest;
}

/** Each event with the milliseconds since the first one: a run log with its timings. */
function timed(events: AuditEvent[]) {
  const t0 = events.length ? Date.parse(events[0].at) : 0;
  return events.map((e) => ({ seq: e.seq, at: e.at, msSinceStart: Date.parse(e.at) - t0, actor: e.actor, action: e.action, data: e.data }));
}

const deployment: ArtifactProducer = (src) => {
  const { deployment: d, release } = src.view;
  return json('release-and-deployment.json', {
    deployment: { id: d.id, service: d.service, environment: d.environment, version: d.version, type: d.type, incident: d.incident, state: d.state, reason: d.reason, requestedBy: d.requestedBy, requestedAt: d.requestedAt, updatedAt: d.updatedAt },
    release: { service: release.service, version: release.version, digest: release.digest, commit: release.commit, builtAt: release.builtAt, registeredAt: release.createdAt, registeredBy: release.createdBy },
  });
};

/** Intake validation: the gate's checks as last evaluated, and every evaluation on the way. */
const intakeValidation: ArtifactProducer = (src) =>
  json('intake-validation.json', {
    checks: src.view.deployment.checks,
    evaluations: eventsOf(src, `deployment:${src.view.deployment.id}`)
      .filter((e) => e.action === 'gate.evaluated')
      .map((e) => ({ seq: e.seq, at: e.at, actor: e.actor, data: e.data })),
  });

/** The release's runs in the previous environment (staging, as a rule), with their timings. */
const stagingRunLog: ArtifactProducer = (src) => {
  if (!src.previousEnvironment) return null;
  return json('staging-deployment-log.json', {
    environment: src.previousEnvironment,
    deployments: src.previousDeployments.map((d) => ({
      id: d.id,
      state: d.state,
      reason: d.reason,
      requestedBy: d.requestedBy,
      requestedAt: d.requestedAt,
      updatedAt: d.updatedAt,
      durationMs: Date.parse(d.updatedAt) - Date.parse(d.requestedAt),
      rollout: rolloutSummary(d.rollout),
      events: timed(eventsOf(src, `deployment:${d.id}`)),
    })),
  });
};

const SMOKE_ACTIONS = new Set(['rollout.smoke', 'rollout.verified']);

/** Smoke results of every step and post-deploy check here and in the previous environment, and the attached test reports. */
const smokeAndTests: ArtifactProducer = (src) => {
  const runs = [src.view.deployment, ...src.previousDeployments].map((d) => ({
    deployment: d.id,
    environment: d.environment,
    results: eventsOf(src, `deployment:${d.id}`)
      .filter((e) => SMOKE_ACTIONS.has(e.action))
      .map((e) => ({ seq: e.seq, at: e.at, action: e.action, data: e.data })),
  }));
  return json('smoke-and-test-results.json', {
    smoke: runs.filter((r) => r.results.length),
    testReports: src.view.release.reports.filter((r) => r.kind === 'tests').map((r) => ({ name: r.name, format: r.format, sha256: r.sha256, tests: r.tests })),
  });
};

/** The newest rollback rehearsal of the release (or the service), with its timings. */
const rollbackVerification: ArtifactProducer = (src) => {
  if (!src.rehearsal) return null;
  const e = src.rehearsal;
  return json('rollback-verification.json', { seq: e.seq, at: e.at, actor: e.actor, subject: e.subject, report: e.data });
};

/** Vulnerability scans attached to the release, and the gate's verdict on them. */
const securityCompliance: ArtifactProducer = (src) =>
  json('security-compliance.json', {
    scans: src.view.release.reports.filter((r) => r.kind === 'scan').map((r) => ({ name: r.name, format: r.format, sha256: r.sha256, vulnerabilities: r.vulnerabilities })),
    policy: { maxVulnerabilities: src.policy.maxVulnerabilities, requireScan: src.policy.requireScan },
    check: src.view.deployment.checks.find((c) => c.id === 'vulnerabilities') ?? null,
  });

/** Who approved (or rejected), in which role, when, with what comment or conditions. */
const readinessApproval: ArtifactProducer = (src) =>
  json('readiness-approval.json', {
    required: src.view.deployment.type === 'hotfix' ? src.policy.emergency.approvals : src.policy.approvals,
    approvals: src.view.approvals.map((a) => ({ user: a.user, role: a.role, decision: a.decision, at: a.at, comment: a.comment, authenticatedBy: a.authMethod, lapsedAt: a.lapsedAt })),
    check: src.view.deployment.checks.find((c) => c.id === 'approvals') ?? null,
  });

/** The policy's readiness checklist, each item with its tick (who, when, note) or its evidence. */
const checklist: ArtifactProducer = (src) =>
  json('deployment-checklist.json', {
    items: src.policy.checklist.map((item) => {
      const tick = src.view.ticks.find((t) => t.item === item.id) ?? null;
      return { id: item.id, text: item.text, satisfiedBy: item.evidence ? `attached ${item.evidence} report` : 'a tick', tick: tick ? { user: tick.user, at: tick.at, note: tick.note } : null };
    }),
    check: src.view.deployment.checks.find((c) => c.id === 'checklist') ?? null,
  });

/** Every audit event about the release and the deployments above, in sequence order, one JSON object per line. */
const auditExcerpt: ArtifactProducer = (src) => {
  const subjects = [releaseSubjectOf(src), `deployment:${src.view.deployment.id}`, ...src.previousDeployments.map((d) => `deployment:${d.id}`)];
  const all = subjects.flatMap((s) => eventsOf(src, s)).sort((a, b) => a.seq - b.seq);
  return { name: 'audit-excerpt.jsonl', bytes: Buffer.from(all.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8') };
};

/** The signed checkpoint of the chain's head when the package was made. */
const auditCheckpoint: ArtifactProducer = (src) => json('audit-checkpoint.json', src.checkpoint);

/** What `audit verify` said of the whole chain when the package was made. */
const auditVerification: ArtifactProducer = (src) => json('audit-verification.json', { head: src.head, result: src.chain });

const stagingParity: ArtifactProducer = (src) =>
  src.parity ? json('staging-parity-report.json', src.parity) : null;

/** Every run of the service's migration for this release: in the previous environment, here, and
 * in the rehearsal (its report's migration figures). */
const migrationStatus: ArtifactProducer = (src) => {
  const subjects = [`deployment:${src.view.deployment.id}`, ...src.previousDeployments.map((d) => `deployment:${d.id}`)];
  const runs = subjects.flatMap((s) => eventsOf(src, s)).filter((e) => e.action === 'migration.ran');
  const rehearsed = (src.rehearsal?.data as { migration?: unknown } | undefined)?.migration ?? null;
  if (runs.length === 0 && rehearsed === null) return null;
  return json('migration-status.json', {
    runs: runs.map((e) => ({ seq: e.seq, at: e.at, subject: e.subject, ...(e.data as object) })),
    rehearsal: rehearsed,
  });
};

export const ARTIFACT_PRODUCERS: ArtifactProducer[] = [
  deployment,
  intakeValidation,
  stagingRunLog,
  stagingParity,
  migrationStatus,
  smokeAndTests,
  rollbackVerification,
  securityCompliance,
  readinessApproval,
  checklist,
  auditExcerpt,
  auditCheckpoint,
  auditVerification,
];

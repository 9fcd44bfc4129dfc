// The QG-PHASE7 readiness report of one deployment, as data: PASS/FAIL with its reasons, the
// canary against the baseline per step (what the rollout record keeps), the judge's verdicts,
// rollback readiness (the newest rehearsal against the policy's SLO), monitoring coverage,
// migrations, security posture, approvals and checklist. Pure: what the store holds in, the
// report out; reports/markdown.ts and reports/html.ts render it.
import { judgeFigures, type VersionFigures } from './canary.js';
import type { RollbackRecord, RolloutRecord, SmokeOutcome } from './rollout.js';
import type { Approval, ChecklistItem, ChecklistTick, CheckResult, Deployment, Release } from './types.js';

/** An audit event as the report reads it. */
export interface ReportEvent {
  seq: number;
  at: string;
  actor: string;
  action: string;
  data: unknown;
}

export interface ReadinessInput {
  deployment: Deployment;
  release: Release;
  approvals: (Approval & { lapsedAt?: string | null })[];
  ticks: ChecklistTick[];
  checklist: ChecklistItem[];
  /** The deployment's audit events, oldest first. */
  events: ReportEvent[];
  /** The service's newest `rehearsal.completed` event (in the policy's environment when it has one). */
  rehearsal: ReportEvent | null;
  rehearsalRule: { environment: string | null; maxAgeDays: number; sloSeconds: number } | null;
  generatedAt: string;
}

export type { VersionFigures };

export interface StepRow {
  step: number;
  weight: number;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  /** Requests seen during this step (the record's counts are cumulative over the rollout). */
  canaryRequests: number | null;
  stableRequests: number | null;
  /** Requests per second during the step. */
  canaryPerSecond: number | null;
  stablePerSecond: number | null;
  /** Error rates of the requests seen during this step (null: no figures kept, or none seen). */
  canaryErrorRate: number | null;
  stableErrorRate: number | null;
  /** Latency quantiles (ms) of everything seen up to the end of this step. */
  upToHere: { canary: { p50: number | null; p95: number | null; p99: number | null }; stable: { p50: number | null; p95: number | null; p99: number | null } } | null;
  verdict: 'pass' | 'fail' | 'inconclusive' | null;
  reasons: { metric: string; verdict: string; sentence: string }[];
  smoke: SmokeOutcome[];
}

export interface RunOfMigration {
  at: string;
  direction: string;
  ok: boolean;
  durationMs: number | null;
  countBefore: number | null;
  countAfter: number | null;
  during: string;
  error: string | null;
}

export interface Readiness {
  verdict: 'PASS' | 'FAIL';
  /** Why it failed; for a PASS, what was checked. */
  reasons: string[];
  definition: string;
  generatedAt: string;
  deployment: {
    id: number;
    service: string;
    environment: string;
    version: string;
    digest: string;
    commit: string;
    type: string;
    incident: string | null;
    state: string;
    reason: string | null;
    requestedBy: string;
    requestedAt: string;
    updatedAt: string;
  };
  canary: {
    plan: number[] | null;
    steps: StepRow[];
    /** Canary and stable over the whole rollout, from the judge's persisted state. */
    overall: { canary: VersionFigures; stable: VersionFigures } | null;
    postDeploy: { dueAt: string; ranAt: string | null; ok: boolean | null; reasons: string[] }[];
    rollback: RollbackRecord | null;
    /** What the store does not keep that a per-step comparison would need. */
    notStored: string[];
  };
  rollbackReadiness: {
    rule: { environment: string | null; maxAgeDays: number; sloSeconds: number } | null;
    rehearsal: { at: string; environment: string | null; version: string | null; ok: boolean | null; msToTraffic: number | null; msToVerified: number | null; problems: string[] } | null;
    withinSlo: boolean | null;
    sentence: string;
    check: CheckResult | null;
  };
  monitoring: { check: CheckResult | null; sentence: string };
  migrations: { runs: RunOfMigration[]; sentence: string };
  security: CheckResult[];
  otherChecks: CheckResult[];
  approvals: { user: string; role: string; decision: string; comment: string | null; at: string; lapsedAt: string | null; auth: string }[];
  checklist: { id: string; text: string; evidence: string | null; tickedBy: string | null; at: string | null; note: string | null }[];
}

export const PASS_DEFINITION =
  'PASS when the deployment succeeded, no gate check failed at its last evaluation (a check a hotfix bypassed is shown, not counted), no canary step or post-deploy check failed, no migration run failed, and, when the policy requires a rollback rehearsal, the newest one succeeded within the SLO. Anything else is FAIL, with each reason.';

const SECURITY_CHECKS = new Set(['certificate', 'security-headers', 'security', 'vulnerabilities']);
const OWN_SECTIONS = new Set(['monitoring', 'rollback-rehearsal']);

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
const obj = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' ? (x as Record<string, unknown>) : {});

/** The judge's persisted state (domain/canary.ts), as figures for the whole rollout. */
const overallOf = (analysis: unknown): Readiness['canary']['overall'] => judgeFigures(analysis);

function stepRows(r: RolloutRecord): StepRow[] {
  let prevCanary = 0;
  let prevStable = 0;
  let prevErrors = { canary: 0, stable: 0 };
  return r.steps.map((s, i) => {
    const next = r.steps[i + 1]?.startedAt ?? (i === r.steps.length - 1 ? (r.rollback?.decidedAt ?? null) : null);
    const end = s.endedAt ?? next;
    const durationMs = end ? Date.parse(end) - Date.parse(s.startedAt) : null;
    // Counts are the judge's, cumulative; a step it never judged (100%: promoted) has none.
    const judged = s.verdict !== null || s.canaryRequests > 0;
    const dc = judged ? Math.max(0, s.canaryRequests - prevCanary) : null;
    const ds = judged ? Math.max(0, s.stableRequests - prevStable) : null;
    if (judged) {
      prevCanary = s.canaryRequests;
      prevStable = s.stableRequests;
    }
    const perSecond = (k: number | null) => (k !== null && durationMs && durationMs > 0 ? k / (durationMs / 1000) : null);
    // Error rates per step from the differences of the judge's cumulative figures.
    const f = s.figures ?? null;
    const rateOf = (errorsNow: number, errorsBefore: number, n: number | null) => (f && n ? Math.max(0, errorsNow - errorsBefore) / n : null);
    const canaryErrorRate = f ? rateOf(f.canary.errors, prevErrors.canary, dc) : null;
    const stableErrorRate = f ? rateOf(f.stable.errors, prevErrors.stable, ds) : null;
    if (f) prevErrors = { canary: f.canary.errors, stable: f.stable.errors };
    const q = (v: VersionFigures) => ({ p50: v.p50, p95: v.p95, p99: v.p99 });
    return {
      step: i + 1,
      weight: s.weight,
      startedAt: s.startedAt,
      endedAt: end,
      durationMs,
      canaryRequests: dc,
      stableRequests: ds,
      canaryPerSecond: perSecond(dc),
      stablePerSecond: perSecond(ds),
      canaryErrorRate,
      stableErrorRate,
      upToHere: f ? { canary: q(f.canary), stable: q(f.stable) } : null,
      verdict: s.verdict,
      reasons: s.reasons.map((x) => ({ metric: x.metric, verdict: x.verdict, sentence: x.sentence })),
      smoke: s.smoke ?? [],
    };
  });
}

const NOT_STORED = [
  "latency percentiles of one step's requests alone: the judge keeps latency cumulatively over the rollout, so each step shows them up to its end (error rates per step come from the differences of its counts); steps recorded before shipgate kept the judge's figures show neither",
  "stable's latency percentiles come from the judge's sample of stable's first requests (200 by default), not from all of them",
  "canary's latency percentiles are the upper edges of the judge's 10%-wide bins (at most 10% above the true value)",
];

function migrationRuns(events: ReportEvent[]): RunOfMigration[] {
  return events
    .filter((e) => e.action === 'migration.ran')
    .map((e) => {
      const d = obj(e.data);
      return {
        at: e.at,
        direction: String(d.direction ?? '?'),
        ok: d.ok === true,
        durationMs: num(d.durationMs),
        countBefore: num(d.countBefore),
        countAfter: num(d.countAfter),
        during: String(d.during ?? '?'),
        error: typeof d.error === 'string' ? d.error : null,
      };
    });
}

function rollbackReadiness(input: ReadinessInput, check: CheckResult | null): Readiness['rollbackReadiness'] {
  const rule = input.rehearsalRule;
  const e = input.rehearsal;
  const d = e ? obj(e.data) : null;
  const rehearsal = e && d
    ? {
        at: e.at,
        environment: typeof d.environment === 'string' ? d.environment : null,
        version: typeof d.version === 'string' ? d.version : null,
        ok: typeof d.ok === 'boolean' ? d.ok : null,
        msToTraffic: num(d.msToTraffic),
        msToVerified: num(d.msToVerified),
        problems: Array.isArray(d.problems) ? (d.problems as unknown[]).map(String) : [],
      }
    : null;
  const ageDays = rehearsal ? (Date.parse(input.generatedAt) - Date.parse(rehearsal.at)) / 86_400_000 : null;
  const fresh = rule && ageDays !== null ? ageDays <= rule.maxAgeDays : true;
  const withinSlo = rule && rehearsal ? fresh && rehearsal.ok === true && rehearsal.msToVerified !== null && rehearsal.msToVerified <= rule.sloSeconds * 1000 : null;
  const slo = rule ? `the policy's SLO is ${rule.sloSeconds} s (rehearsal in ${rule.environment ?? 'the previous environment'}, at most ${rule.maxAgeDays} days old)` : 'the policy requires no rollback rehearsal';
  let sentence: string;
  if (!rehearsal) sentence = `no rollback rehearsal recorded for ${input.deployment.service}; ${slo}`;
  else {
    const took = rehearsal.msToVerified === null ? 'did not finish' : `took ${(rehearsal.msToVerified / 1000).toFixed(1)} s to stable verified`;
    const age = `${Math.floor(ageDays!)} days old${fresh ? '' : ', too old'}`;
    sentence = `newest rehearsal ${rehearsal.at} (${age}) of ${rehearsal.version ?? '?'} in ${rehearsal.environment ?? '?'}: ${rehearsal.ok ? 'ok' : 'FAILED'}, rollback ${took}; ${slo}${withinSlo === null ? '' : withinSlo ? ': within it' : ': NOT within it'}`;
  }
  return { rule, rehearsal, withinSlo, sentence, check };
}

export function readinessReport(input: ReadinessInput): Readiness {
  const d = input.deployment;
  const r = d.rollout;
  const checks = d.checks ?? [];
  const byId = (id: string) => checks.find((c) => c.id === id) ?? null;
  const steps = r ? stepRows(r) : [];
  const runs = migrationRuns(input.events);
  const rb = rollbackReadiness(input, byId('rollback-rehearsal'));
  const monitoring = byId('monitoring');

  const reasons: string[] = [];
  if (d.state !== 'succeeded') reasons.push(`the deployment is ${d.state}, not succeeded${d.reason ? `: ${d.reason}` : ''}`);
  for (const c of checks) if (c.status === 'fail' && !c.bypassed) reasons.push(`gate check ${c.id} failed: ${c.reason}`);
  for (const s of steps) if (s.verdict === 'fail') reasons.push(`the judge failed step ${s.step} (${s.weight}%)`);
  for (const s of steps) for (const x of s.smoke) if (!x.ok) reasons.push(`smoke test ${x.name} failed at step ${s.step}: ${x.reason}`);
  (r?.postDeploy ?? []).forEach((p, i) => {
    if (p.ok === false) reasons.push(`post-deploy check ${i + 1} failed: ${p.reasons.join('; ')}`);
  });
  for (const m of runs) if (!m.ok) reasons.push(`migration ${m.direction} (${m.during}) failed: ${m.error ?? 'no detail'}`);
  if (rb.rule && rb.withinSlo !== true) reasons.push(`rollback readiness: ${rb.sentence}`);
  const verdict = reasons.length ? 'FAIL' : 'PASS';
  const passed = [
    'the deployment succeeded',
    `${checks.filter((c) => c.status === 'pass').length} gate checks passed, none failed`,
    `${steps.filter((s) => s.verdict === 'pass').length} canary steps passed`,
    `${(r?.postDeploy ?? []).filter((p) => p.ok).length} post-deploy checks passed`,
  ];

  return {
    verdict,
    reasons: verdict === 'FAIL' ? reasons : passed,
    definition: PASS_DEFINITION,
    generatedAt: input.generatedAt,
    deployment: {
      id: d.id,
      service: d.service,
      environment: d.environment,
      version: d.version,
      digest: input.release.digest,
      commit: input.release.commit,
      type: d.type,
      incident: d.incident,
      state: d.state,
      reason: d.reason,
      requestedBy: d.requestedBy,
      requestedAt: d.requestedAt,
      updatedAt: d.updatedAt,
    },
    canary: { plan: r?.plan.steps ?? null, steps, overall: r ? overallOf(r.analysis) : null, postDeploy: r?.postDeploy ?? [], rollback: r?.rollback ?? null, notStored: NOT_STORED },
    rollbackReadiness: rb,
    monitoring: {
      check: monitoring,
      sentence: monitoring ? `${monitoring.status}: ${monitoring.reason}` : 'no monitoring check was recorded for this deployment',
    },
    migrations: { runs, sentence: runs.length ? `${runs.length} migration run(s), ${runs.filter((m) => !m.ok).length} failed` : 'no migration declared' },
    security: checks.filter((c) => SECURITY_CHECKS.has(c.id)),
    otherChecks: checks.filter((c) => !SECURITY_CHECKS.has(c.id) && !OWN_SECTIONS.has(c.id)),
    approvals: input.approvals.map((a) => ({ user: a.user, role: a.role, decision: a.decision, comment: a.comment, at: a.at, lapsedAt: a.lapsedAt ?? null, auth: a.authMethod })),
    checklist: input.checklist.map((item) => {
      const t = input.ticks.find((x) => x.item === item.id) ?? null;
      return { id: item.id, text: item.text, evidence: item.evidence ?? null, tickedBy: t?.user ?? null, at: t?.at ?? null, note: t?.note ?? null };
    }),
  };
}

/** The deployment's facts as (field, value) rows, the same in every format of the report. */
export function deploymentRows(r: Readiness): [string, string][] {
  const d = r.deployment;
  return [
    ['state', d.state + (d.reason ? ` (${d.reason})` : '')],
    ['type', d.type + (d.incident ? ` (incident ${d.incident})` : '')],
    ['digest', d.digest],
    ['commit', d.commit],
    ['requested', `${d.requestedAt} by ${d.requestedBy}`],
    ['last change', d.updatedAt],
  ];
}

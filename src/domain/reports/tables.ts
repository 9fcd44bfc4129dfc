// The readiness report's tables and sentences, once: header and rows of each section, with the
// figures formatted. markdown.ts and html.ts only wrap them (and escape every cell) in their
// own syntax, so both formats always say the same thing.
import type { CheckResult } from '../types.js';
import { formatDuration } from '../figures.js';
import { deploymentRows, type Readiness, type VersionFigures } from '../readiness.js';

export interface Table {
  head: string[];
  rows: unknown[][];
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null) => (x === null ? '–' : `${x.toFixed(1)} ms`);
const rate = (x: number | null) => (x === null ? '–' : `${x.toFixed(1)}/s`);
const quantiles = (q: { p50: number | null; p95: number | null; p99: number | null } | undefined) => (q ? `${ms(q.p50)} / ${ms(q.p95)} / ${ms(q.p99)}` : '–');

type Canary = Readiness['canary'];

export const deploymentTable = (r: Readiness): Table => ({ head: ['field', 'value'], rows: deploymentRows(r) });

export const stepsTable = (c: Canary): Table => ({
  head: ['step', 'weight', 'started', 'duration', 'canary requests', 'stable requests', 'canary throughput', 'stable throughput', 'canary error rate', 'stable error rate', 'canary p50 / p95 / p99 up to here', 'stable p50 / p95 / p99 up to here', 'verdict'],
  rows: c.steps.map((s) => [s.step, `${s.weight}%`, s.startedAt, formatDuration(s.durationMs), s.canaryRequests ?? '–', s.stableRequests ?? '–', rate(s.canaryPerSecond), rate(s.stablePerSecond), pct(s.canaryErrorRate), pct(s.stableErrorRate), quantiles(s.upToHere?.canary), quantiles(s.upToHere?.stable), s.verdict ?? 'not judged']),
});

export function versionsTable(o: { canary: VersionFigures; stable: VersionFigures }): Table {
  const row = (name: string, v: VersionFigures) => [name, v.requests, v.errors, pct(v.errorRate), ms(v.p50), ms(v.p95), ms(v.p99), ms(v.geoMeanMs)];
  return { head: ['version', 'requests', 'errors', 'error rate', 'p50', 'p95', 'p99', 'geometric mean'], rows: [row('canary', o.canary), row('stable (baseline)', o.stable)] };
}

export const verdictsTable = (c: Canary): Table => ({
  head: ['step', 'weight', 'metric', 'verdict', 'reason'],
  rows: c.steps.flatMap((s) => s.reasons.map((x) => [s.step, `${s.weight}%`, x.metric, x.verdict, x.sentence])),
});

export const smokeTable = (c: Canary): Table => ({
  head: ['step', 'check', 'result', 'status', 'reason'],
  rows: c.steps.flatMap((s) => s.smoke.map((x) => [s.step, x.name, x.ok ? 'passed' : 'FAILED', x.status ?? '–', x.reason])),
});

export const postDeployTable = (c: Canary): Table => ({
  head: ['#', 'due', 'ran', 'result', 'reasons'],
  rows: c.postDeploy.map((p, i) => [i + 1, p.dueAt, p.ranAt ?? '–', p.ok === null ? 'not run' : p.ok ? 'passed' : 'FAILED', p.reasons.join('; ')]),
});

/** The rollback of the rollout in one sentence; null when there was none. */
export function rollbackSentence(c: Canary): string | null {
  const b = c.rollback;
  if (!b) return null;
  return `${b.trigger}: ${b.reason}. Traffic on stable after ${formatDuration(b.msToTraffic)}, verified after ${formatDuration(b.msToVerified)}: ${b.ok === null ? 'in progress' : b.ok ? 'ok' : 'FAILED'}${b.detail ? ` (${b.detail})` : ''}`;
}

/** The newest rehearsal against the SLO; null when there is none. */
export function rehearsalTable(rb: Readiness['rollbackReadiness']): Table | null {
  const h = rb.rehearsal;
  if (!h) return null;
  return {
    head: ['rehearsed', 'environment', 'version', 'result', 'to traffic', 'to verified', 'SLO', 'problems'],
    rows: [[h.at, h.environment ?? '–', h.version ?? '–', h.ok ? 'ok' : 'FAILED', formatDuration(h.msToTraffic), formatDuration(h.msToVerified), rb.rule ? `${rb.rule.sloSeconds} s` : 'none', h.problems.join('; ')]],
  };
}

export const migrationsTable = (r: Readiness): Table => ({
  head: ['at', 'direction', 'during', 'result', 'duration', 'count before', 'count after', 'error'],
  rows: r.migrations.runs.map((m) => [m.at, m.direction, m.during, m.ok ? 'ok' : 'FAILED', formatDuration(m.durationMs), m.countBefore ?? '–', m.countAfter ?? '–', m.error ?? '']),
});

export const checksTable = (checks: CheckResult[]): Table => ({
  head: ['check', 'status', 'reason'],
  rows: checks.map((x) => [x.id, x.status + (x.bypassed ? ' (bypassed)' : ''), x.reason]),
});

export const approvalsTable = (r: Readiness): Table => ({
  head: ['who', 'role', 'decision', 'when', 'comment', 'sign-in', 'lapsed'],
  rows: r.approvals.map((a) => [a.user, a.role, a.decision, a.at, a.comment ?? '', a.auth, a.lapsedAt ?? '']),
});

export const checklistTable = (r: Readiness): Table => ({
  head: ['item', 'text', 'ticked by', 'when', 'note'],
  rows: r.checklist.map((t) => [t.id, t.text, t.tickedBy ?? (t.evidence ? `evidence: ${t.evidence} report` : 'not ticked'), t.at ?? '', t.note ?? '']),
});

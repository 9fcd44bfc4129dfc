// The readiness report as Markdown: the verdict first, then one table per section. Every text
// from the store is escaped for a table cell (pipes, new lines) and for the HTML a Markdown
// renderer lets through (<, >, &), so a release note or comment cannot add markup.
import { formatDuration } from '../figures.js';
import { deploymentRows, type Readiness, type VersionFigures } from '../readiness.js';

/** Text safe inside a Markdown table cell or paragraph. */
export function mdText(v: unknown): string {
  return String(v ?? '')
    .replace(/([\\`*_[\]])/g, '\\$1')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ');
}

function table(head: string[], rows: unknown[][]): string {
  if (!rows.length) return '_none_\n';
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(mdText).join(' | ')} |`)].join('\n') + '\n';
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null) => (x === null ? '–' : `${x.toFixed(1)} ms`);
const rate = (x: number | null) => (x === null ? '–' : `${x.toFixed(1)}/s`);
const quantiles = (q: { p50: number | null; p95: number | null; p99: number | null } | undefined) => (q ? `${ms(q.p50)} / ${ms(q.p95)} / ${ms(q.p99)}` : '–');

function versions(o: { canary: VersionFigures; stable: VersionFigures }): string {
  const row = (name: string, v: VersionFigures) => [name, v.requests, v.errors, pct(v.errorRate), ms(v.p50), ms(v.p95), ms(v.p99), ms(v.geoMeanMs)];
  return table(['version', 'requests', 'errors', 'error rate', 'p50', 'p95', 'p99', 'geometric mean'], [row('canary', o.canary), row('stable (baseline)', o.stable)]);
}

export function readinessMarkdown(r: Readiness): string {
  const d = r.deployment;
  const out: string[] = [];
  out.push(`# Readiness report: ${mdText(d.service)} ${mdText(d.version)} → ${mdText(d.environment)} (deployment ${d.id})\n`);
  out.push(`## ${r.verdict}\n`);
  out.push(r.reasons.map((x) => `- ${mdText(x)}`).join('\n') + '\n');
  out.push(`_${mdText(r.definition)}_\n`);
  out.push(`Generated ${r.generatedAt}.\n`);
  out.push(
    table(
      ['field', 'value'],
      deploymentRows(r),
    ),
  );

  const c = r.canary;
  out.push(`## Canary against baseline\n`);
  out.push(c.plan ? `Plan: ${c.plan.join(' → ')}%.\n` : 'No rollout record: shipgate did not roll this deployment out.\n');
  out.push('### Per step\n');
  out.push(
    table(
      ['step', 'weight', 'started', 'duration', 'canary requests', 'stable requests', 'canary throughput', 'stable throughput', 'canary error rate', 'stable error rate', 'canary p50 / p95 / p99 up to here', 'stable p50 / p95 / p99 up to here', 'verdict'],
      c.steps.map((s) => [s.step, `${s.weight}%`, s.startedAt, formatDuration(s.durationMs), s.canaryRequests ?? '–', s.stableRequests ?? '–', rate(s.canaryPerSecond), rate(s.stablePerSecond), pct(s.canaryErrorRate), pct(s.stableErrorRate), quantiles(s.upToHere?.canary), quantiles(s.upToHere?.stable), s.verdict ?? 'not judged']),
    ),
  );
  if (c.overall) {
    out.push('### Whole rollout (the judge\'s state)\n');
    out.push(versions(c.overall));
  }
  out.push(`Not stored by shipgate: ${c.notStored.map(mdText).join('; ')}.\n`);

  out.push("## The judge's verdicts\n");
  const reasonRows = c.steps.flatMap((s) => s.reasons.map((x) => [s.step, `${s.weight}%`, x.metric, x.verdict, x.sentence]));
  out.push(table(['step', 'weight', 'metric', 'verdict', 'reason'], reasonRows));
  const smoke = c.steps.flatMap((s) => s.smoke.map((x) => [s.step, x.name, x.ok ? 'passed' : 'FAILED', x.status ?? '–', x.reason]));
  if (smoke.length) out.push('### Smoke tests\n\n' + table(['step', 'check', 'result', 'status', 'reason'], smoke));
  if (c.postDeploy.length) out.push('### Post-deploy checks\n\n' + table(['#', 'due', 'ran', 'result', 'reasons'], c.postDeploy.map((p, i) => [i + 1, p.dueAt, p.ranAt ?? '–', p.ok === null ? 'not run' : p.ok ? 'passed' : 'FAILED', p.reasons.join('; ')])));
  if (c.rollback) {
    const b = c.rollback;
    out.push(`### Rollback\n\n${mdText(`${b.trigger}: ${b.reason}. Traffic on stable after ${formatDuration(b.msToTraffic)}, verified after ${formatDuration(b.msToVerified)}: ${b.ok === null ? 'in progress' : b.ok ? 'ok' : 'FAILED'}${b.detail ? ` (${b.detail})` : ''}`)}\n`);
  }

  const rb = r.rollbackReadiness;
  out.push('## Rollback readiness\n');
  out.push(mdText(rb.sentence) + '\n');
  if (rb.rehearsal) {
    const h = rb.rehearsal;
    out.push(table(['rehearsed', 'environment', 'version', 'result', 'to traffic', 'to verified', 'SLO', 'problems'], [[h.at, h.environment ?? '–', h.version ?? '–', h.ok ? 'ok' : 'FAILED', formatDuration(h.msToTraffic), formatDuration(h.msToVerified), rb.rule ? `${rb.rule.sloSeconds} s` : 'none', h.problems.join('; ')]]));
  }
  if (rb.check) out.push(`Gate check rollback-rehearsal: **${rb.check.status}**: ${mdText(rb.check.reason)}\n`);

  out.push('## Monitoring coverage\n');
  out.push(mdText(r.monitoring.sentence) + '\n');

  out.push('## Migrations\n');
  out.push(mdText(r.migrations.sentence) + '\n');
  if (r.migrations.runs.length) out.push(table(['at', 'direction', 'during', 'result', 'duration', 'count before', 'count after', 'error'], r.migrations.runs.map((m) => [m.at, m.direction, m.during, m.ok ? 'ok' : 'FAILED', formatDuration(m.durationMs), m.countBefore ?? '–', m.countAfter ?? '–', m.error ?? ''])));

  out.push('## Security posture\n');
  out.push(table(['check', 'status', 'reason'], r.security.map((x) => [x.id, x.status + (x.bypassed ? ' (bypassed)' : ''), x.reason])));

  out.push('## Other gate checks\n');
  out.push(table(['check', 'status', 'reason'], r.otherChecks.map((x) => [x.id, x.status + (x.bypassed ? ' (bypassed)' : ''), x.reason])));

  out.push('## Approvals and sign-offs\n');
  out.push(table(['who', 'role', 'decision', 'when', 'comment', 'sign-in', 'lapsed'], r.approvals.map((a) => [a.user, a.role, a.decision, a.at, a.comment ?? '', a.auth, a.lapsedAt ?? ''])));
  out.push('### Checklist\n');
  out.push(table(['item', 'text', 'ticked by', 'when', 'note'], r.checklist.map((t) => [t.id, t.text, t.tickedBy ?? (t.evidence ? `evidence: ${t.evidence} report` : 'not ticked'), t.at ?? '', t.note ?? ''])));
  return out.join('\n');
}

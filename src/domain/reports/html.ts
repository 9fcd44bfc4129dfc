// The readiness report as one self-contained HTML file: the verdict first, the charts drawn
// here as inline SVG (no script, no external file), tables for the rest. Every text from the
// store goes through `esc`, so a hostile release note or comment stays text.
import { formatDuration } from '../figures.js';
import { deploymentRows, type Readiness, type VersionFigures } from '../readiness.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

function table(head: string[], rows: unknown[][], cls = ''): string {
  if (!rows.length) return '<p class="none">none</p>';
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export interface BarGroup {
  label: string;
  /** One value per series; null: nothing to draw. */
  values: (number | null)[];
}

/** A grouped bar chart as inline SVG: one group per label, one bar per series, values printed. */
export function barChart(title: string, series: string[], groups: BarGroup[], format: (v: number) => string): string {
  const colors = ['#d97706', '#2563eb', '#059669'];
  const W = 560;
  const H = 220;
  const left = 10;
  const top = 28;
  const bottom = 40;
  const plotH = H - top - bottom;
  const max = Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v ?? 0)));
  const groupW = (W - left * 2) / Math.max(1, groups.length);
  const barW = Math.min(48, (groupW - 16) / Math.max(1, series.length));
  const parts: string[] = [];
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * series.length) / 2;
    g.values.forEach((v, si) => {
      const h = v === null || max === 0 ? 0 : (v / max) * plotH;
      const x = x0 + si * barW;
      const y = top + plotH - h;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[si % colors.length]}"><title>${esc(`${series[si]} ${g.label}: ${v === null ? 'no data' : format(v)}`)}</title></rect>`);
      parts.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${esc(v === null ? '–' : format(v))}</text>`);
    });
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle" font-size="11">${esc(g.label)}</text>`);
  });
  const legend = series.map((s, i) => `<rect x="${left + i * 130}" y="${H - 14}" width="10" height="10" fill="${colors[i % colors.length]}"/><text x="${left + i * 130 + 14}" y="${H - 5}" font-size="11">${esc(s)}</text>`).join('');
  return `<figure class="chart"><figcaption>${esc(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><line x1="${left}" y1="${top + plotH}" x2="${W - left}" y2="${top + plotH}" stroke="#9ca3af"/>${parts.join('')}${legend}</svg></figure>`;
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null) => (x === null ? '–' : `${x.toFixed(1)} ms`);
const rate = (x: number | null) => (x === null ? '–' : `${x.toFixed(1)}/s`);
const quantiles = (q: { p50: number | null; p95: number | null; p99: number | null } | undefined) => (q ? `${ms(q.p50)} / ${ms(q.p95)} / ${ms(q.p99)}` : '–');

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;color:#1d2330;max-width:1000px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #d9dde3}h3{font-size:1rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}th,td{border-bottom:1px solid #d9dde3;padding:.3rem .5rem;text-align:left;vertical-align:top}
.verdict{font-size:2rem;font-weight:700;padding:.4rem 1rem;border-radius:6px;display:inline-block}.PASS{background:#dcfce7;color:#15803d}.FAIL{background:#fee2e2;color:#b91c1c}
.none,.muted{color:#6b7280;font-style:italic}.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{color:#6b7280}
.fail{color:#b91c1c}.pass{color:#15803d}`;

function overallCharts(o: { canary: VersionFigures; stable: VersionFigures }): string {
  return [
    barChart('Error rate, whole rollout', ['canary', 'stable'], [{ label: 'error rate', values: [o.canary.errorRate, o.stable.errorRate] }], (v) => `${(v * 100).toFixed(2)}%`),
    barChart(
      'Latency percentiles, whole rollout',
      ['canary', 'stable'],
      (['p50', 'p95', 'p99'] as const).map((q) => ({ label: q, values: [o.canary[q], o.stable[q]] })),
      (v) => `${v.toFixed(1)} ms`,
    ),
  ].join('');
}

export function readinessHtml(r: Readiness): string {
  const d = r.deployment;
  const c = r.canary;
  const rb = r.rollbackReadiness;
  const title = `Readiness report: ${d.service} ${d.version} → ${d.environment} (deployment ${d.id})`;
  const out: string[] = [];
  out.push(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head><body>`);
  out.push(`<h1>${esc(title)}</h1>`);
  out.push(`<p><span class="verdict ${r.verdict}" id="verdict">${r.verdict}</span></p>`);
  out.push(`<ul id="verdict-reasons">${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`);
  out.push(`<p class="muted">${esc(r.definition)} Generated ${esc(r.generatedAt)}.</p>`);
  out.push(
    table(
      ['field', 'value'],
      deploymentRows(r),
    ),
  );

  out.push('<h2 id="canary">Canary against baseline</h2>');
  out.push(c.plan ? `<p>Plan: ${esc(c.plan.join(' → '))}%.</p>` : '<p class="muted">No rollout record: shipgate did not roll this deployment out.</p>');
  const judged = c.steps.filter((s) => s.canaryPerSecond !== null || s.stablePerSecond !== null);
  out.push('<div class="charts">');
  if (judged.length) out.push(barChart('Throughput per step (requests per second)', ['canary', 'stable'], judged.map((s) => ({ label: `step ${s.step} (${s.weight}%)`, values: [s.canaryPerSecond, s.stablePerSecond] })), (v) => v.toFixed(1)));
  const withErrors = judged.filter((s) => s.canaryErrorRate !== null || s.stableErrorRate !== null);
  if (withErrors.length) out.push(barChart('Error rate per step (%)', ['canary', 'stable'], withErrors.map((s) => ({ label: `step ${s.step} (${s.weight}%)`, values: [s.canaryErrorRate === null ? null : s.canaryErrorRate * 100, s.stableErrorRate === null ? null : s.stableErrorRate * 100] })), (v) => v.toFixed(2)));
  if (c.overall) out.push(overallCharts(c.overall));
  out.push('</div>');
  out.push('<h3>Per step</h3>');
  out.push(
    table(
      ['step', 'weight', 'started', 'duration', 'canary requests', 'stable requests', 'canary throughput', 'stable throughput', 'canary error rate', 'stable error rate', 'canary p50 / p95 / p99 up to here', 'stable p50 / p95 / p99 up to here', 'verdict'],
      c.steps.map((s) => [s.step, `${s.weight}%`, s.startedAt, formatDuration(s.durationMs), s.canaryRequests ?? '–', s.stableRequests ?? '–', rate(s.canaryPerSecond), rate(s.stablePerSecond), pct(s.canaryErrorRate), pct(s.stableErrorRate), quantiles(s.upToHere?.canary), quantiles(s.upToHere?.stable), s.verdict ?? 'not judged']),
      'steps',
    ),
  );
  if (c.overall) {
    const row = (name: string, v: VersionFigures) => [name, v.requests, v.errors, pct(v.errorRate), ms(v.p50), ms(v.p95), ms(v.p99), ms(v.geoMeanMs)];
    out.push("<h3>Whole rollout (the judge's state)</h3>");
    out.push(table(['version', 'requests', 'errors', 'error rate', 'p50', 'p95', 'p99', 'geometric mean'], [row('canary', c.overall.canary), row('stable (baseline)', c.overall.stable)]));
  }
  out.push(`<p class="muted">Not stored by shipgate: ${esc(c.notStored.join('; '))}.</p>`);

  out.push('<h2 id="verdicts">The judge\'s verdicts</h2>');
  out.push(table(['step', 'weight', 'metric', 'verdict', 'reason'], c.steps.flatMap((s) => s.reasons.map((x) => [s.step, `${s.weight}%`, x.metric, x.verdict, x.sentence])), 'verdicts'));
  const smoke = c.steps.flatMap((s) => s.smoke.map((x) => [s.step, x.name, x.ok ? 'passed' : 'FAILED', x.status ?? '–', x.reason]));
  if (smoke.length) out.push('<h3>Smoke tests</h3>' + table(['step', 'check', 'result', 'status', 'reason'], smoke));
  if (c.postDeploy.length) out.push('<h3>Post-deploy checks</h3>' + table(['#', 'due', 'ran', 'result', 'reasons'], c.postDeploy.map((p, i) => [i + 1, p.dueAt, p.ranAt ?? '–', p.ok === null ? 'not run' : p.ok ? 'passed' : 'FAILED', p.reasons.join('; ')])));
  if (c.rollback) {
    const b = c.rollback;
    out.push(`<h3>Rollback</h3><p id="rollback">${esc(`${b.trigger}: ${b.reason}. Traffic on stable after ${formatDuration(b.msToTraffic)}, verified after ${formatDuration(b.msToVerified)}: ${b.ok === null ? 'in progress' : b.ok ? 'ok' : 'FAILED'}${b.detail ? ` (${b.detail})` : ''}`)}</p>`);
  }

  out.push('<h2 id="rollback-readiness">Rollback readiness</h2>');
  out.push(`<p>${esc(rb.sentence)}</p>`);
  if (rb.rehearsal) {
    const h = rb.rehearsal;
    const slo = rb.rule ? rb.rule.sloSeconds * 1000 : null;
    out.push(barChart('Rehearsed rollback against the SLO', ['rehearsal', 'SLO'], [{ label: 'to stable verified', values: [h.msToVerified, slo] }], (v) => formatDuration(v)));
    out.push(table(['rehearsed', 'environment', 'version', 'result', 'to traffic', 'to verified', 'SLO', 'problems'], [[h.at, h.environment ?? '–', h.version ?? '–', h.ok ? 'ok' : 'FAILED', formatDuration(h.msToTraffic), formatDuration(h.msToVerified), rb.rule ? `${rb.rule.sloSeconds} s` : 'none', h.problems.join('; ')]]));
  }
  if (rb.check) out.push(`<p>Gate check rollback-rehearsal: <strong>${esc(rb.check.status)}</strong>: ${esc(rb.check.reason)}</p>`);

  out.push('<h2 id="monitoring">Monitoring coverage</h2>');
  out.push(`<p>${esc(r.monitoring.sentence)}</p>`);

  out.push('<h2 id="migrations">Migrations</h2>');
  out.push(`<p>${esc(r.migrations.sentence)}</p>`);
  if (r.migrations.runs.length) out.push(table(['at', 'direction', 'during', 'result', 'duration', 'count before', 'count after', 'error'], r.migrations.runs.map((m) => [m.at, m.direction, m.during, m.ok ? 'ok' : 'FAILED', formatDuration(m.durationMs), m.countBefore ?? '–', m.countAfter ?? '–', m.error ?? ''])));

  out.push('<h2 id="security">Security posture</h2>');
  out.push(table(['check', 'status', 'reason'], r.security.map((x) => [x.id, x.status + (x.bypassed ? ' (bypassed)' : ''), x.reason])));

  out.push('<h2 id="checks">Other gate checks</h2>');
  out.push(table(['check', 'status', 'reason'], r.otherChecks.map((x) => [x.id, x.status + (x.bypassed ? ' (bypassed)' : ''), x.reason])));

  out.push('<h2 id="approvals">Approvals and sign-offs</h2>');
  out.push(table(['who', 'role', 'decision', 'when', 'comment', 'sign-in', 'lapsed'], r.approvals.map((a) => [a.user, a.role, a.decision, a.at, a.comment ?? '', a.auth, a.lapsedAt ?? '']), 'approvals'));
  out.push('<h3>Checklist</h3>');
  out.push(table(['item', 'text', 'ticked by', 'when', 'note'], r.checklist.map((t) => [t.id, t.text, t.tickedBy ?? (t.evidence ? `evidence: ${t.evidence} report` : 'not ticked'), t.at ?? '', t.note ?? ''])));
  out.push('</body></html>\n');
  return out.join('\n');
}

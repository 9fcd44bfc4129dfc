// The readiness report as one self-contained HTML file: the verdict first, the charts drawn
// here as inline SVG (no script, no external file), tables for the rest. Every text from the
// store goes through `esc`, so a hostile release note or comment stays text.
import { formatDuration } from '../figures.js';
import type { Readiness, VersionFigures } from '../readiness.js';
import {
  approvalsTable,
  checklistTable,
  checksTable,
  deploymentTable,
  migrationsTable,
  postDeployTable,
  rehearsalTable,
  rollbackSentence,
  smokeTable,
  stepsTable,
  type Table,
  verdictsTable,
  versionsTable,
} from './tables.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

function table({ head, rows }: Table, cls = ''): string {
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
    table(deploymentTable(r)),
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
    table(stepsTable(c), 'steps'),
  );
  if (c.overall) {
    out.push("<h3>Whole rollout (the judge's state)</h3>");
    out.push(table(versionsTable(c.overall)));
  }
  out.push(`<p class="muted">Not stored by shipgate: ${esc(c.notStored.join('; '))}.</p>`);

  out.push('<h2 id="verdicts">The judge\'s verdicts</h2>');
  out.push(table(verdictsTable(c), 'verdicts'));
  const smoke = smokeTable(c);
  if (smoke.rows.length) out.push('<h3>Smoke tests</h3>' + table(smoke));
  if (c.postDeploy.length) out.push('<h3>Post-deploy checks</h3>' + table(postDeployTable(c)));
  const rollback = rollbackSentence(c);
  if (rollback) out.push(`<h3>Rollback</h3><p id="rollback">${esc(rollback)}</p>`);

  out.push('<h2 id="rollback-readiness">Rollback readiness</h2>');
  out.push(`<p>${esc(rb.sentence)}</p>`);
  if (rb.rehearsal) {
    const h = rb.rehearsal;
    const slo = rb.rule ? rb.rule.sloSeconds * 1000 : null;
    out.push(barChart('Rehearsed rollback against the SLO', ['rehearsal', 'SLO'], [{ label: 'to stable verified', values: [h.msToVerified, slo] }], (v) => formatDuration(v)));
    out.push(table(rehearsalTable(rb)!));
  }
  if (rb.check) out.push(`<p>Gate check rollback-rehearsal: <strong>${esc(rb.check.status)}</strong>: ${esc(rb.check.reason)}</p>`);

  out.push('<h2 id="monitoring">Monitoring coverage</h2>');
  out.push(`<p>${esc(r.monitoring.sentence)}</p>`);

  out.push('<h2 id="migrations">Migrations</h2>');
  out.push(`<p>${esc(r.migrations.sentence)}</p>`);
  if (r.migrations.runs.length) out.push(table(migrationsTable(r)));

  out.push('<h2 id="security">Security posture</h2>');
  out.push(table(checksTable(r.security)));

  out.push('<h2 id="checks">Other gate checks</h2>');
  out.push(table(checksTable(r.otherChecks)));

  out.push('<h2 id="approvals">Approvals and sign-offs</h2>');
  out.push(table(approvalsTable(r), 'approvals'));
  out.push('<h3>Checklist</h3>');
  out.push(table(checklistTable(r)));
  out.push('</body></html>\n');
  return out.join('\n');
}

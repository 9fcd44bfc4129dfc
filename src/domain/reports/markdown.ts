// The readiness report as Markdown: the verdict first, then one table per section. Every text
// from the store is escaped for a table cell (pipes, new lines) and for the HTML a Markdown
// renderer lets through (<, >, &), so a release note or comment cannot add markup.
import type { Readiness } from '../readiness.js';
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

function table({ head, rows }: Table): string {
  if (!rows.length) return '_none_\n';
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(mdText).join(' | ')} |`)].join('\n') + '\n';
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
    table(deploymentTable(r)),
  );

  const c = r.canary;
  out.push(`## Canary against baseline\n`);
  out.push(c.plan ? `Plan: ${c.plan.join(' → ')}%.\n` : 'No rollout record: shipgate did not roll this deployment out.\n');
  out.push('### Per step\n');
  out.push(
    table(stepsTable(c)),
  );
  if (c.overall) {
    out.push('### Whole rollout (the judge\'s state)\n');
    out.push(table(versionsTable(c.overall)));
  }
  out.push(`Not stored by shipgate: ${c.notStored.map(mdText).join('; ')}.\n`);

  out.push("## The judge's verdicts\n");
  out.push(table(verdictsTable(c)));
  const smoke = smokeTable(c);
  if (smoke.rows.length) out.push('### Smoke tests\n\n' + table(smoke));
  if (c.postDeploy.length) out.push('### Post-deploy checks\n\n' + table(postDeployTable(c)));
  const rollback = rollbackSentence(c);
  if (rollback) out.push(`### Rollback\n\n${mdText(rollback)}\n`);

  const rb = r.rollbackReadiness;
  out.push('## Rollback readiness\n');
  out.push(mdText(rb.sentence) + '\n');
  if (rb.rehearsal) {
    const h = rb.rehearsal;
    out.push(table(rehearsalTable(rb)!));
  }
  if (rb.check) out.push(`Gate check rollback-rehearsal: **${rb.check.status}**: ${mdText(rb.check.reason)}\n`);

  out.push('## Monitoring coverage\n');
  out.push(mdText(r.monitoring.sentence) + '\n');

  out.push('## Migrations\n');
  out.push(mdText(r.migrations.sentence) + '\n');
  if (r.migrations.runs.length) out.push(table(migrationsTable(r)));

  out.push('## Security posture\n');
  out.push(table(checksTable(r.security)));

  out.push('## Other gate checks\n');
  out.push(table(checksTable(r.otherChecks)));

  out.push('## Approvals and sign-offs\n');
  out.push(table(approvalsTable(r)));
  out.push('### Checklist\n');
  out.push(table(checklistTable(r)));
  return out.join('\n');
}

// Human-readable output of the CLI. Scripts use --json instead, which prints the API's JSON.
import type { Json } from './client.js';
import { EXIT } from '../errors.js';

const MARK: Record<string, string> = { pass: '✔', fail: '✘', warn: '!', pending: '…', skipped: '-' };

export function formatChecks(checks: Json[]): string {
  const width = Math.max(...checks.map((c) => c.id.length), 8);
  return checks
    .map((c) => {
      const flag = c.bypassed ? ' [BYPASSED]' : '';
      return `  ${MARK[c.status] ?? '?'} ${c.id.padEnd(width)}  ${c.status.padEnd(7)} ${c.reason}${flag}`;
    })
    .join('\n');
}

export function formatGate(gate: Json): string {
  return `${formatChecks(gate.checks)}\ngate: ${gate.outcome} — ${gate.summary}`;
}

export function formatDeployment(view: Json): string {
  const d = view.deployment;
  const lines: string[] = [];
  const type = d.type === 'hotfix' ? `HOTFIX for incident ${d.incident}` : d.type;
  lines.push(`deployment ${d.id}: ${d.service} ${d.version} → ${d.environment}  [${d.state}]  ${type}`);
  lines.push(`  release ${view.release.digest}  commit ${view.release.commit}`);
  lines.push(`  requested by ${d.requestedBy} at ${d.requestedAt}`);
  if (d.reason) lines.push(`  reason: ${d.reason}`);
  const checks = view.gate?.checks ?? d.checks;
  if (checks?.length) lines.push(formatChecks(checks));
  for (const a of view.approvals ?? []) {
    const lapsed = a.lapsedAt ? ' (expired)' : '';
    lines.push(`  ${a.decision === 'approve' ? 'approved' : 'rejected'} by ${a.user} as ${a.role} at ${a.at} via ${a.authMethod}${lapsed}${a.comment ? `: ${a.comment}` : ''}`);
  }
  for (const t of view.ticks ?? []) lines.push(`  ticked ${t.item} by ${t.user} at ${t.at}${t.note ? `: ${t.note}` : ''}`);
  if (view.waitingFor) lines.push(`waiting for: ${view.waitingFor}`);
  return lines.join('\n');
}

export function formatDeploymentRow(d: Json): string {
  const flag = d.type === 'hotfix' ? ` HOTFIX(${d.incident})` : d.type === 'rollback' ? ' ROLLBACK' : '';
  return `${String(d.id).padStart(5)}  ${d.service} ${d.version} → ${d.environment}  ${d.state}${flag}  by ${d.requestedBy} ${d.requestedAt}`;
}

export function formatStatus(cells: Json[]): string {
  const lines: string[] = [];
  let service = '';
  for (const c of cells) {
    if (c.service !== service) {
      service = c.service;
      lines.push(service);
    }
    const current = c.current ? c.current.version : '(nothing deployed)';
    let open = '';
    if (c.open) {
      const flag = c.open.type === 'hotfix' ? ' HOTFIX' : '';
      open = `  → deployment ${c.open.id} of ${c.open.version} ${c.open.state}${flag}${c.open.waitingFor ? `; waiting for ${c.open.waitingFor}` : ''}`;
    }
    lines.push(`  ${c.environment.padEnd(12)} ${current}${open}`);
    if (c.rollbackFailed) {
      const f = c.rollbackFailed;
      lines.push(`  ${''.padEnd(12)} !! ROLLBACK FAILED: deployment ${f.id} of ${f.version} (${f.at}): ${f.reason ?? 'no reason recorded'}; where traffic goes is not known, check the target by hand`);
    }
  }
  return lines.join('\n');
}

export function formatRelease(r: Json, verifications: Json[] = []): string {
  const lines = [`${r.service} ${r.version}  ${r.digest}`, `  commit ${r.commit}  built ${r.builtAt}  registered by ${r.createdBy}`];
  for (const rep of r.reports ?? []) {
    const what = rep.vulnerabilities
      ? Object.entries(rep.vulnerabilities).map(([k, v]) => `${k} ${v}`).join(', ')
      : rep.tests
        ? `${rep.tests.total} tests, ${rep.tests.failures} failures, ${rep.tests.errors} errors`
        : '';
    lines.push(`  report ${rep.name} (${rep.kind}, ${rep.format}): ${what}`);
  }
  for (const v of verifications) lines.push(`  verified in ${v.environment} by ${v.verifiedBy} at ${v.verifiedAt}`);
  return lines.join('\n');
}

/** Exit code for a gate outcome or a deployment state, as documented in the README. */
export function exitFor(outcomeOrState: string): number {
  switch (outcomeOrState) {
    case 'pass':
    case 'approved':
    case 'rolling_out':
    case 'verifying':
    case 'succeeded':
      return EXIT.ok;
    case 'blocked':
    case 'waiting_for_window':
    case 'requested':
    case 'checking':
    case 'awaiting_approval':
    case 'rolling_back':
      return EXIT.blocked;
    default:
      return EXIT.failed;
  }
}

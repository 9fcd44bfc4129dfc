// The production gate: evaluates an environment's policy for one release and explains every
// check. Pure: the store gathers the facts, this decides, the caller persists.
import { type ApprovalTally, tallyApprovals } from './approvals.js';
import { formatLocal, freezeStatus, nextDeployableAt, windowStatus } from './calendar.js';
import { describeSetting, type ParityReport } from './parity.js';
import { mutableVersionReason } from './release.js';
import {
  type Approval,
  type BypassableCheck,
  type ChecklistTick,
  type CheckResult,
  type DeploymentType,
  type MonitoringCoverage,
  type Policy,
  type RehearsalFact,
  type Release,
  type SecurityHeader,
  type SecurityProbe,
  SEVERITIES,
  type Verification,
  type VulnCounts,
} from './types.js';

export interface GateInput {
  now: Date;
  environment: string;
  policy: Policy;
  release: Release;
  type: DeploymentType;
  incident: string | null;
  requestedBy: string;
  /** Digest of the artifact about to be deployed, when the caller knows it. */
  expectedDigest?: string | null;
  verifications: Verification[];
  /** The release now running in the environment (the rollback target), if any. */
  previousRelease: Release | null;
  /** True when this release ran successfully in the environment before (for rollbacks). */
  releaseRanHereBefore?: boolean;
  approvals: Approval[];
  ticks: ChecklistTick[];
  /** The metrics source's answer on the policy's required metrics; null: not asked yet. */
  coverage?: MonitoringCoverage | null;
  /** The newest rollback rehearsal of the service in the policy's rehearsal environment. */
  rehearsal?: RehearsalFact | null;
  /** The last HTTPS request to the service's address; null: not made yet. */
  security?: SecurityProbe | null;
  /** The settings drift against the policy's parity environment; null: not compared. */
  parity?: ParityReport | null;
}

/**
 * pass: every check passes. waiting_for_window: only a window or freeze holds it.
 * blocked: something may still pass later (approvals, soak, checklist...).
 * failed: a check failed for good. rejected: an approver said no.
 */
export type GateOutcome = 'pass' | 'waiting_for_window' | 'blocked' | 'failed' | 'rejected';

export interface GateResult {
  outcome: GateOutcome;
  checks: CheckResult[];
  approvals: ApprovalTally;
  /** Checks a hotfix passed by break-glass. */
  bypassed: string[];
  /** One sentence for humans: the outcome and what it waits for. */
  summary: string;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

export function evaluateGate(input: GateInput): GateResult {
  const { policy } = input;
  const hotfix = input.type === 'hotfix';
  const bypass = (id: BypassableCheck, result: CheckResult): CheckResult => {
    if (!hotfix || !policy.emergency.mayBypass.includes(id)) return result;
    if (result.status !== 'pending' && result.status !== 'fail') return result;
    if (result.final) return result;
    return {
      ...result,
      status: 'warn',
      bypassed: true,
      reason: `bypassed by hotfix for incident ${input.incident}: ${result.reason}`,
    };
  };

  const rules = hotfix ? policy.emergency.approvals : policy.approvals;
  const tally = tallyApprovals({
    rules: hotfix || !policy.autoApprove ? rules : [],
    approvals: input.approvals,
    requester: input.requestedBy,
    ttlMinutes: policy.approvalTtlMinutes,
    now: input.now,
  });

  const checks: CheckResult[] = [
    bypass('verified', verifiedCheck(input)),
    bypass('soak', soakCheck(input)),
    vulnerabilityCheck(input),
    immutableCheck(input),
    bypass('window', windowCheck(input)),
    bypass('freeze', freezeCheck(input)),
    rollbackTargetCheck(input),
    checklistCheck(input),
    monitoringCheck(input),
    // Listed only where the policy asks for them: most environments never do.
    ...(policy.rollbackRehearsal ? [rehearsalCheck(input)] : []),
    ...(policy.security ? [certificateCheck(input), securityHeadersCheck(input)] : []),
    ...(policy.parity ? [parityCheck(input)] : []),
    approvalsCheck(input, tally, hotfix),
  ];

  const outcome = decide(checks, tally);
  return {
    outcome,
    checks,
    approvals: tally,
    bypassed: checks.filter((c) => c.bypassed).map((c) => c.id),
    summary: summarize(outcome, checks),
  };
}

function decide(checks: CheckResult[], tally: ApprovalTally): GateOutcome {
  if (tally.rejection) return 'rejected';
  if (checks.some((c) => c.status === 'fail' && c.final)) return 'failed';
  const open = checks.filter((c) => c.status === 'fail' || c.status === 'pending');
  if (open.length === 0) return 'pass';
  if (open.every((c) => c.id === 'window' || c.id === 'freeze')) return 'waiting_for_window';
  return 'blocked';
}

function summarize(outcome: GateOutcome, checks: CheckResult[]): string {
  const open = checks.filter((c) => c.status === 'fail' || c.status === 'pending');
  switch (outcome) {
    case 'pass':
      return 'every check passes';
    case 'rejected':
      return checks.find((c) => c.id === 'approvals')!.reason;
    case 'failed':
      return `failed: ${open.filter((c) => c.final).map((c) => `${c.id}: ${c.reason}`).join('; ')}`;
    case 'waiting_for_window':
      return `approved; waiting for a deployment window: ${open.map((c) => c.reason).join('; ')}`;
    case 'blocked':
      return `waiting for ${open.map((c) => c.id).join(', ')}`;
  }
}

function hhmmUtc(iso: string): string {
  return `${iso.slice(11, 16)} UTC`;
}

function verifiedCheck(input: GateInput): CheckResult {
  const env = input.policy.requireVerifiedIn;
  if (input.type === 'rollback') {
    return { id: 'verified', status: 'skipped', reason: 'a rollback redeploys a release that ran here before' };
  }
  if (!env) return { id: 'verified', status: 'skipped', reason: 'this environment requires no earlier verification' };
  const v = input.verifications.find((x) => x.environment === env);
  if (v) {
    return {
      id: 'verified',
      status: 'pass',
      reason: `verified in ${env} by ${v.verifiedBy} at ${v.verifiedAt}`,
      figure: env,
      threshold: env,
    };
  }
  return {
    id: 'verified',
    status: 'pending',
    reason: `${input.release.service} ${input.release.version} is not verified in ${env} yet; mark it once its tests there pass (shipgate verify ${input.release.service} ${input.release.version} ${env})`,
    figure: null,
    threshold: env,
  };
}

function soakCheck(input: GateInput): CheckResult {
  const { soakMinutes, requireVerifiedIn: env } = input.policy;
  if (input.type === 'rollback') return { id: 'soak', status: 'skipped', reason: 'a rollback needs no soak time' };
  if (!env || soakMinutes <= 0) return { id: 'soak', status: 'skipped', reason: 'no soak time required' };
  const v = input.verifications.find((x) => x.environment === env);
  if (!v) {
    return {
      id: 'soak',
      status: 'pending',
      reason: `soak of ${soakMinutes} min starts when the release is verified in ${env}`,
      figure: 0,
      threshold: soakMinutes,
    };
  }
  const since = Date.parse(v.verifiedAt);
  const soaked = Math.max(0, Math.floor((input.now.getTime() - since) / MINUTE));
  const passesAt = new Date(since + soakMinutes * MINUTE).toISOString();
  if (input.now.getTime() >= since + soakMinutes * MINUTE) {
    return { id: 'soak', status: 'pass', reason: `soaked ${soaked} min of ${soakMinutes} in ${env}`, figure: soaked, threshold: soakMinutes };
  }
  return {
    id: 'soak',
    status: 'pending',
    reason: `soaked ${soaked} min of ${soakMinutes} in ${env}; passes at ${hhmmUtc(passesAt)}`,
    figure: soaked,
    threshold: soakMinutes,
    passesAt,
  };
}

function vulnerabilityCheck(input: GateInput): CheckResult {
  const scans = input.release.reports.filter((r) => r.kind === 'scan' && r.vulnerabilities);
  const limits = input.policy.maxVulnerabilities;
  const limitText = SEVERITIES.filter((s) => limits[s] !== undefined).map((s) => `${s} ≤ ${limits[s]}`).join(', ') || 'none';
  if (scans.length === 0) {
    if (input.policy.requireScan) {
      return {
        id: 'vulnerabilities',
        status: 'fail',
        reason: 'no vulnerability scan attached; the policy requires one (SARIF, Trivy, Grype or npm audit)',
        figure: null,
        threshold: limitText,
      };
    }
    return { id: 'vulnerabilities', status: 'warn', reason: 'no vulnerability scan attached: nothing to count', figure: null, threshold: limitText };
  }
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as VulnCounts;
  for (const r of scans) for (const s of SEVERITIES) counts[s] += r.vulnerabilities![s];
  const figure = SEVERITIES.map((s) => `${s} ${counts[s]}`).join(', ');
  const over = SEVERITIES.filter((s) => limits[s] !== undefined && counts[s] > limits[s]!);
  const from = scans.map((r) => r.name).join(', ');
  if (over.length) {
    return {
      id: 'vulnerabilities',
      status: 'fail',
      final: true,
      reason: `${over.map((s) => `${counts[s]} ${s} (max ${limits[s]})`).join(', ')} in ${from}`,
      figure,
      threshold: limitText,
    };
  }
  return { id: 'vulnerabilities', status: 'pass', reason: `${figure} in ${from}; within ${limitText}`, figure, threshold: limitText };
}

function immutableCheck(input: GateInput): CheckResult {
  const { release } = input;
  const mutable = mutableVersionReason(release.version, input.policy.mutableTags);
  if (mutable) return { id: 'immutable', status: 'fail', final: true, reason: mutable, figure: release.version };
  if (input.expectedDigest && input.expectedDigest !== release.digest) {
    return {
      id: 'immutable',
      status: 'fail',
      final: true,
      reason: `digest ${input.expectedDigest} does not match ${release.digest} recorded at build time`,
      figure: input.expectedDigest,
      threshold: release.digest,
    };
  }
  return {
    id: 'immutable',
    status: 'pass',
    reason: `${release.version} is pinned to ${release.digest} recorded at build time${input.expectedDigest ? ' and the deployed digest matches' : ''}`,
    figure: release.digest,
  };
}

function windowCheck(input: GateInput): CheckResult {
  const cal = input.policy.calendar;
  if (cal.windows.length === 0) return { id: 'window', status: 'skipped', reason: 'no deployment windows: any time is allowed' };
  const w = windowStatus(cal, input.now);
  const spec = cal.windows.map((x) => `${x.days.join('/')} ${x.start}–${x.end}`).join(', ');
  if (w.open) {
    return {
      id: 'window',
      status: 'pass',
      reason: `inside the deployment window (${spec} ${cal.timezone})${w.closesAt ? `; closes ${formatLocal(w.closesAt, cal.timezone)}` : ''}`,
      threshold: spec,
    };
  }
  const next = w.opensAt ? formatLocal(w.opensAt, cal.timezone) : 'never within a year';
  return {
    id: 'window',
    status: 'pending',
    reason: `outside the deployment windows (${spec} ${cal.timezone}); next window opens ${next}`,
    threshold: spec,
    passesAt: w.opensAt ? w.opensAt.toISOString() : null,
  };
}

function freezeCheck(input: GateInput): CheckResult {
  const cal = input.policy.calendar;
  if (cal.freezes.length === 0) return { id: 'freeze', status: 'skipped', reason: 'no change freezes configured' };
  const f = freezeStatus(cal, input.now);
  if (!f.frozen || !f.freeze) return { id: 'freeze', status: 'pass', reason: 'no change freeze in effect' };
  const next = nextDeployableAt(cal, input.now);
  const why = f.freeze.reason ? ` (${f.freeze.reason})` : '';
  const until = f.until ? ` until ${formatLocal(f.until, cal.timezone)}` : '';
  return {
    id: 'freeze',
    status: 'pending',
    reason: `frozen by '${f.freeze.name}'${why}${until}; next window opens ${next ? formatLocal(next, cal.timezone) : 'not within a year'}`,
    figure: f.freeze.name,
    passesAt: next ? next.toISOString() : null,
  };
}

/** The seeds' "monitoring gap → FAIL": every metric the policy requires has series in the
 * environment's metrics source, or the gate says which is missing and the query tried. */
function monitoringCheck(input: GateInput): CheckResult {
  const required = input.policy.monitoring;
  if (required.length === 0) return { id: 'monitoring', status: 'skipped', reason: 'the policy requires no metrics' };
  if (input.type === 'rollback') return { id: 'monitoring', status: 'skipped', reason: 'a rollback restores a release that ran here before' };
  if (!input.previousRelease) {
    return { id: 'monitoring', status: 'warn', reason: `a first deployment in ${input.environment}: nothing serves here yet, so there are no series to find; every later deployment is checked` };
  }
  const c = input.coverage ?? null;
  const names = required.map((m) => m.name).join(', ');
  if (!c) return { id: 'monitoring', status: 'pending', reason: `the metrics source has not been asked yet for ${names}` };
  if ('error' in c) return { id: 'monitoring', status: 'pending', reason: `could not ask the ${c.source} metrics source for ${names}: ${c.error}; asked again at the next evaluation`, figure: null, threshold: required.length };
  const missing = c.results.filter((r) => !r.found);
  if (missing.length) {
    return {
      id: 'monitoring',
      status: 'fail',
      reason: `monitoring gap in ${c.source}: ${missing.map((r) => `${r.name} missing (query tried: ${r.query}${r.detail ? `; ${r.detail}` : ''})`).join('; ')}; add the metric (or change the policy's monitoring.require) and the gate passes at its next evaluation`,
      figure: c.results.length - missing.length,
      threshold: c.results.length,
    };
  }
  return { id: 'monitoring', status: 'pass', reason: `every required metric has series in ${c.source}: ${names}`, figure: c.results.length, threshold: c.results.length };
}

/** "7m12s", "45s", "1h02m": a duration as people read it. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${m}m`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The seed's "rollback rehearsed in the previous environment, within the SLO": the newest
 * rehearsal of any release of the service there (the rollback path is what is rehearsed, and
 * a release already serving there cannot be rehearsed again), no older than `within`. */
function rehearsalCheck(input: GateInput): CheckResult {
  const rule = input.policy.rollbackRehearsal;
  const id = 'rollback-rehearsal';
  if (!rule) return { id, status: 'skipped', reason: 'the policy requires no rollback rehearsal' };
  if (input.type === 'rollback') return { id, status: 'skipped', reason: 'a rollback is the real thing: no rehearsal needed' };
  const { service } = input.release;
  const slo = formatDuration(rule.sloSeconds * 1000);
  const threshold = `≤ ${slo}, ≤ ${rule.maxAgeDays}d old`;
  const again = `run \`shipgate rehearse ${service} <version> ${rule.environment}\``;
  const r = input.rehearsal ?? null;
  if (!r) {
    return { id, status: 'fail', reason: `no rollback rehearsal of ${service} in ${rule.environment}; ${again} (the policy wants one no older than ${rule.maxAgeDays}d whose rollback took ≤ ${slo})`, figure: null, threshold };
  }
  const day = r.at.slice(0, 10);
  const ageMs = input.now.getTime() - Date.parse(r.at);
  const ageDays = Math.floor(ageMs / DAY);
  const of = `the rehearsal of ${r.version} on ${day}`;
  if (ageMs > rule.maxAgeDays * DAY) {
    return { id, status: 'fail', reason: `the newest rollback rehearsal of ${service} in ${rule.environment} is ${ageDays} days old (${of}); the policy wants one within ${rule.maxAgeDays}d: ${again}`, figure: `${ageDays}d old`, threshold };
  }
  if (r.msToVerified === null || !r.ok) {
    const problems = r.problems.length ? r.problems.join('; ') : 'the rollback did not finish';
    return { id, status: 'fail', reason: `the rollback failed in ${of}: ${problems}; fix it and ${again}`, figure: null, threshold };
  }
  const took = formatDuration(r.msToVerified);
  const expires = new Date(Date.parse(r.at) + rule.maxAgeDays * DAY).toISOString();
  if (r.msToVerified > rule.sloSeconds * 1000) {
    return { id, status: 'fail', reason: `rollback took ${took} in ${of} in ${rule.environment}; SLO ${slo}: make the rollback faster and ${again}`, figure: took, threshold };
  }
  return { id, status: 'pass', reason: `rollback took ${took} in ${of} in ${rule.environment}; SLO ${slo}; rehearse again before ${expires.slice(0, 10)}`, figure: took, threshold };
}

function probeSkip(input: GateInput, id: 'certificate' | 'security-headers'): CheckResult | { url: string } {
  const rule = input.policy.security;
  if (!rule) return { id, status: 'skipped', reason: 'the policy has no security section' };
  const url = rule.urls[input.release.service];
  if (!url) return { id, status: 'skipped', reason: `the policy's security section names no address for ${input.release.service}` };
  return { url };
}

/** Unreachable or not asked yet: pending with the error, never a pass. */
function probePending(id: 'certificate' | 'security-headers', url: string, probe: SecurityProbe | null): CheckResult | null {
  if (!probe) return { id, status: 'pending', reason: `${url} has not been asked yet; asked at the next evaluation` };
  if ('error' in probe) return { id, status: 'pending', reason: `could not reach ${url}: ${probe.error}; asked again at the next evaluation`, figure: null };
  return null;
}

function certificateCheck(input: GateInput): CheckResult {
  const id = 'certificate';
  const skip = probeSkip(input, id);
  if ('id' in skip) return skip;
  const rule = input.policy.security!;
  const probe = input.security ?? null;
  const pending = probePending(id, skip.url, probe);
  if (pending || !probe || 'error' in probe) return pending!;
  const threshold = `≥ ${rule.minCertDays} days`;
  const cert = probe.certificate;
  if (!cert) return { id, status: 'fail', reason: `${skip.url} presented no certificate`, figure: null, threshold };
  const expires = cert.validTo ? new Date(cert.validTo) : null;
  const daysLeft = expires ? Math.floor((expires.getTime() - input.now.getTime()) / DAY) : null;
  const until = expires ? `expires ${expires.toISOString().slice(0, 10)}, ${daysLeft} days left` : 'no expiry date';
  if (!cert.trusted) {
    const trust = rule.ca ? `the configured ca (${rule.ca}) or the system's CAs` : "the system's CAs (set security.ca for a private CA)";
    return { id, status: 'fail', reason: `the certificate of ${skip.url} is not trusted (${cert.problem ?? 'unknown reason'}) by ${trust}; ${until}`, figure: daysLeft, threshold };
  }
  if (daysLeft === null || daysLeft < rule.minCertDays) {
    return { id, status: 'fail', reason: `the certificate of ${skip.url} ${until}; the policy wants ≥ ${rule.minCertDays}: renew it`, figure: daysLeft, threshold };
  }
  return { id, status: 'pass', reason: `the certificate of ${skip.url} is trusted and ${until} (≥ ${rule.minCertDays})`, figure: daysLeft, threshold };
}

const HEADER_NAMES: Record<SecurityHeader, string> = {
  hsts: 'Strict-Transport-Security',
  csp: 'Content-Security-Policy',
  x_frame_options: 'X-Frame-Options',
};

function securityHeadersCheck(input: GateInput): CheckResult {
  const id = 'security-headers';
  const skip = probeSkip(input, id);
  if ('id' in skip) return skip;
  const rule = input.policy.security!;
  if (rule.require.length === 0) return { id, status: 'skipped', reason: 'the policy requires no security headers' };
  const probe = input.security ?? null;
  const pending = probePending(id, skip.url, probe);
  if (pending || !probe || 'error' in probe) return pending!;
  const h = probe.headers;
  const problems: string[] = [];
  const present: string[] = [];
  for (const want of rule.require) {
    if (want === 'hsts') {
      if (!h.hsts) {
        problems.push(`${HEADER_NAMES.hsts} missing`);
        continue;
      }
      const m = /max-age\s*=\s*"?(\d+)"?/i.exec(h.hsts);
      const maxAge = m ? Number(m[1]) : null;
      if (maxAge === null || maxAge < rule.hstsMinMaxAgeSeconds) {
        problems.push(`${HEADER_NAMES.hsts} max-age ${maxAge ?? 'absent'} < ${rule.hstsMinMaxAgeSeconds}`);
      } else present.push(`${HEADER_NAMES.hsts} max-age=${maxAge}`);
    } else if (want === 'csp') {
      if (h.csp) present.push(HEADER_NAMES.csp);
      else problems.push(`${HEADER_NAMES.csp} missing`);
    } else {
      // CSP frame-ancestors does what X-Frame-Options does, and browsers prefer it.
      if (h.xFrameOptions) present.push(`${HEADER_NAMES.x_frame_options} ${h.xFrameOptions.slice(0, 40)}`);
      else if (h.csp && /(^|;)\s*frame-ancestors\s/i.test(h.csp)) present.push(`${HEADER_NAMES.csp} frame-ancestors (for ${HEADER_NAMES.x_frame_options})`);
      else problems.push(`${HEADER_NAMES.x_frame_options} missing (or CSP frame-ancestors)`);
    }
  }
  const figure = `${present.length}/${rule.require.length}`;
  const threshold = rule.require.map((r) => HEADER_NAMES[r]).join(', ');
  if (problems.length) {
    return { id, status: 'fail', reason: `${skip.url} (HTTP ${probe.status}): ${problems.join('; ')}; add the header(s) and the gate passes at its next evaluation`, figure, threshold };
  }
  return { id, status: 'pass', reason: `${skip.url} sends ${present.join(', ')}`, figure, threshold };
}

/** Critical drift between this environment's settings and the parity environment's fails
 * (not final: change a setting, or allow it, and the next evaluation passes). */
function parityCheck(input: GateInput): CheckResult {
  const rule = input.policy.parity;
  const id = 'parity';
  if (!rule) return { id, status: 'skipped', reason: 'the policy compares no settings with another environment' };
  if (input.type === 'rollback') return { id, status: 'skipped', reason: 'a rollback restores what ran here before' };
  const p = input.parity ?? null;
  if (!p) return { id, status: 'pending', reason: `the settings of ${input.environment} have not been compared with ${rule.against} yet` };
  if (p.settings.length === 0) {
    return { id, status: 'warn', reason: `neither ${p.from} nor ${p.to} declares settings (environments[].settings): nothing to compare`, figure: 0, threshold: '0 critical' };
  }
  const drift = p.settings.filter((s) => s.drift !== 'same' && !s.allowed);
  const figure = `${p.critical.length} critical, ${p.drifted.length} other`;
  if (p.critical.length) {
    const named = p.settings.filter((s) => s.critical).map((s) => describeSetting(s, p.from, p.to));
    return {
      id,
      status: 'fail',
      reason: `critical drift from ${p.from}: ${named.join('; ')}; make them equal (or allow them in policy.parity.allow) and the gate passes at its next evaluation (\`shipgate parity ${p.from} ${p.to}\`)`,
      figure,
      threshold: '0 critical',
    };
  }
  if (drift.length) {
    return { id, status: 'warn', reason: `no critical drift from ${p.from}; other drift: ${drift.map((s) => describeSetting(s, p.from, p.to)).join('; ')}`, figure, threshold: '0 critical' };
  }
  return { id, status: 'pass', reason: `${p.settings.length} setting(s) match ${p.from}${p.settings.some((s) => s.allowed && s.drift !== 'same') ? ' (besides allowed differences)' : ''}`, figure, threshold: '0 critical' };
}

function rollbackTargetCheck(input: GateInput): CheckResult {
  const mode = input.policy.rollbackTarget;
  if (mode === 'off') return { id: 'rollback-target', status: 'skipped', reason: 'the policy does not ask for a rollback target' };
  if (input.type === 'rollback') {
    if (input.releaseRanHereBefore) {
      return { id: 'rollback-target', status: 'pass', reason: `${input.release.version} ran in ${input.environment} before: it is a known-good target` };
    }
    return {
      id: 'rollback-target',
      status: 'fail',
      final: true,
      reason: `${input.release.version} never ran successfully in ${input.environment}, so it cannot be a rollback target`,
    };
  }
  const prev = input.previousRelease;
  if (prev) {
    return {
      id: 'rollback-target',
      status: 'pass',
      reason: `rollback target: ${prev.service} ${prev.version} (${prev.digest.slice(0, 19)}…)`,
      figure: prev.version,
    };
  }
  const first = `first deployment of ${input.release.service} to ${input.environment}: there is no earlier release to roll back to`;
  if (mode === 'required') {
    return {
      id: 'rollback-target',
      status: 'fail',
      final: true,
      reason: `${first}, and the policy requires one (rollback_target: required); deploy the first release with rollback_target: warn in ${input.environment}'s policy, then set it back to required`,
      figure: null,
      threshold: 'required',
    };
  }
  return { id: 'rollback-target', status: 'warn', reason: first, figure: null, threshold: 'warn' };
}

function checklistCheck(input: GateInput): CheckResult {
  const items = input.policy.checklist;
  if (items.length === 0) return { id: 'checklist', status: 'skipped', reason: 'no readiness checklist' };
  const done: string[] = [];
  const missing: string[] = [];
  const failed: string[] = [];
  for (const item of items) {
    if (item.evidence === 'tests') {
      const reports = input.release.reports.filter((r) => r.kind === 'tests' && r.tests);
      const bad = reports.find((r) => r.tests!.failures + r.tests!.errors > 0);
      if (bad) {
        failed.push(`${item.id} (${bad.name}: ${bad.tests!.failures + bad.tests!.errors} failing of ${bad.tests!.total})`);
      } else if (reports.length) {
        done.push(`${item.id} (${reports.map((r) => `${r.name}: ${r.tests!.total} tests, 0 failing`).join('; ')})`);
      } else {
        missing.push(`${item.id} (attach a test report)`);
      }
      continue;
    }
    if (item.evidence === 'scan') {
      const scan = input.release.reports.find((r) => r.kind === 'scan');
      if (scan) done.push(`${item.id} (${scan.name})`);
      else missing.push(`${item.id} (attach a scan report)`);
      continue;
    }
    const tick = input.ticks.find((t) => t.item === item.id);
    if (tick) done.push(`${item.id} (ticked by ${tick.user})`);
    else missing.push(`${item.id} (a person ticks it)`);
  }
  const figure = `${done.length}/${items.length}`;
  if (failed.length) {
    return { id: 'checklist', status: 'fail', final: true, reason: `evidence shows failures: ${failed.join(', ')}`, figure, threshold: `${items.length}/${items.length}` };
  }
  if (missing.length) {
    return { id: 'checklist', status: 'pending', reason: `${figure} done; missing: ${missing.join(', ')}`, figure, threshold: `${items.length}/${items.length}` };
  }
  return { id: 'checklist', status: 'pass', reason: `${figure} done: ${done.join(', ')}`, figure, threshold: `${items.length}/${items.length}` };
}

function approvalsCheck(input: GateInput, tally: ApprovalTally, hotfix: boolean): CheckResult {
  const { policy } = input;
  if (!hotfix && policy.autoApprove) {
    return { id: 'approvals', status: 'pass', reason: `${input.environment} approves automatically when every other check passes` };
  }
  const need = tally.roles.reduce((n, t) => n + t.required, 0);
  const have = tally.roles.reduce((n, t) => n + t.approvedBy.length, 0);
  const figure = `${have}/${need}`;
  const label = hotfix ? 'emergency approvals' : 'approvals';
  if (tally.rejection) {
    return { id: 'approvals', status: 'fail', final: true, reason: tally.summary, figure, threshold: `${need}` };
  }
  if (tally.satisfied) {
    const lapse = tally.firstExpiry ? `; first lapses at ${tally.firstExpiry}` : '';
    return { id: 'approvals', status: 'pass', reason: `${label} complete: ${tally.summary}${lapse}`, figure, threshold: `${need}` };
  }
  return {
    id: 'approvals',
    status: 'pending',
    reason: `${label} ${figure}: ${tally.summary}; the requester (${input.requestedBy}) cannot approve`,
    figure,
    threshold: `${need}`,
  };
}

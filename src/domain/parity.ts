// Staging parity: the drift between two environments' declared settings and the versions they
// run, and which of it the policy calls critical. Pure: the caller reads the settings (secrets
// already reduced to a hash) and the running versions; this compares and explains.
import type { ParityPolicy } from './types.js';

/** A setting as the comparison sees it: a plain value, or a secret known only by its hash. */
export type SettingFact =
  | { kind: 'plain'; value: string }
  /** sha256 hex of the secret's bytes; null with `problem` when it could not be read here. */
  | { kind: 'secret'; source: string; sha256: string | null; problem: string | null };

export type SettingDrift = 'same' | 'differs' | 'only_in_from' | 'only_in_to' | 'unreadable';

export interface SettingComparison {
  name: string;
  drift: SettingDrift;
  secret: boolean;
  /** Plain values only; a secret's value is never carried, not even hashed. */
  from?: string;
  to?: string;
  /** Why a secret could not be compared (a variable not set, a file missing). */
  problem?: string;
  allowed: boolean;
  critical: boolean;
}

export interface VersionComparison {
  service: string;
  from: string | null;
  to: string | null;
  same: boolean;
}

export interface ParityReport {
  from: string;
  to: string;
  settings: SettingComparison[];
  versions: VersionComparison[];
  /** Names of the settings whose drift is critical. */
  critical: string[];
  /** Drift neither allowed nor critical: reported, not blocking. */
  drifted: string[];
  /** One sentence: what drifted and what is critical. */
  summary: string;
}

export interface ParityInput {
  from: string;
  to: string;
  fromSettings: Record<string, SettingFact>;
  toSettings: Record<string, SettingFact>;
  /** Running version per service in each environment (null: nothing runs there). */
  versions?: { service: string; from: string | null; to: string | null }[];
  /** Null: no parity policy; drift is reported and none of it is critical. */
  policy: Pick<ParityPolicy, 'allow' | 'critical'> | null;
}

/** `*` matches any run of characters; everything else literally, case-sensitive. */
export function matchesPattern(name: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}

export function compareParity(input: ParityInput): ParityReport {
  const names = [...new Set([...Object.keys(input.fromSettings), ...Object.keys(input.toSettings)])].sort();
  const allow = input.policy?.allow ?? [];
  const criticalRule = input.policy?.critical ?? [];
  const settings = names.map((name): SettingComparison => {
    const a = input.fromSettings[name];
    const b = input.toSettings[name];
    const secret = a?.kind === 'secret' || b?.kind === 'secret';
    const out: SettingComparison = { name, drift: driftOf(a, b), secret, allowed: allow.some((p) => matchesPattern(name, p)), critical: false };
    if (!secret) {
      if (a?.kind === 'plain') out.from = a.value;
      if (b?.kind === 'plain') out.to = b.value;
    }
    const problem = [a, b].map((x) => (x?.kind === 'secret' ? x.problem : null)).filter(Boolean);
    if (problem.length) out.problem = problem.join('; ');
    if (out.drift !== 'same' && !out.allowed) {
      out.critical = criticalRule === 'all_except_allowed' ? true : criticalRule.some((p) => matchesPattern(name, p));
    }
    return out;
  });
  const versions = (input.versions ?? []).map((v) => ({ ...v, same: v.from === v.to }));
  const critical = settings.filter((s) => s.critical).map((s) => s.name);
  const drifted = settings.filter((s) => s.drift !== 'same' && !s.allowed && !s.critical).map((s) => s.name);
  return { from: input.from, to: input.to, settings, versions, critical, drifted, summary: summarize(input.from, input.to, settings) };
}

function driftOf(a: SettingFact | undefined, b: SettingFact | undefined): SettingDrift {
  if (!a) return 'only_in_to';
  if (!b) return 'only_in_from';
  if ((a.kind === 'secret' && a.sha256 === null) || (b.kind === 'secret' && b.sha256 === null)) return 'unreadable';
  // A secret on one side and a plain value on the other compare by hash too: the plain value
  // is hashed here so the secret's side never has to be revealed.
  return hashOrValue(a) === hashOrValue(b) ? 'same' : 'differs';
}

function hashOrValue(f: SettingFact): string {
  return f.kind === 'secret' ? `sha256:${f.sha256}` : `plain:${f.value}`;
}

/** One setting's drift in words; a secret's value never appears. */
export function describeSetting(s: SettingComparison, from: string, to: string): string {
  switch (s.drift) {
    case 'same':
      return `${s.name}: same`;
    case 'only_in_from':
      return `${s.name}: set in ${from} only`;
    case 'only_in_to':
      return `${s.name}: set in ${to} only`;
    case 'unreadable':
      return `${s.name}: cannot compare (${s.problem ?? 'unreadable'})`;
    case 'differs':
      return s.secret ? `${s.name}: differs (secret; values not shown)` : `${s.name}: differs (${from} ${JSON.stringify(s.from)}, ${to} ${JSON.stringify(s.to)})`;
  }
}

function summarize(from: string, to: string, settings: SettingComparison[]): string {
  const critical = settings.filter((s) => s.critical);
  const other = settings.filter((s) => s.drift !== 'same' && !s.allowed && !s.critical);
  const allowed = settings.filter((s) => s.drift !== 'same' && s.allowed);
  const parts: string[] = [];
  if (critical.length) parts.push(`critical drift: ${critical.map((s) => describeSetting(s, from, to)).join('; ')}`);
  if (other.length) parts.push(`other drift: ${other.map((s) => describeSetting(s, from, to)).join('; ')}`);
  if (allowed.length) parts.push(`allowed to differ: ${allowed.map((s) => s.name).join(', ')}`);
  if (!parts.length) return `${settings.length} setting(s) the same in ${from} and ${to}`;
  return parts.join('; ');
}

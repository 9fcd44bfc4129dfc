// The PromQL the Prometheus source runs: how a convention tells the canary's series from the
// stable's (the selector), and the query templates with their {{placeholders}}. Pure: no I/O
// (a pod-template-hash lookup is run by the source and its answer handed in here).

export type Convention = 'version' | 'workload' | 'pod-template-hash';
export type Side = 'canary' | 'stable';
export type Kind = 'requests' | 'errors' | 'latency';

export interface QuerySettings {
  convention: Convention;
  versionLabel: string;
  workloadLabel: string;
  canaryWorkload: string;
  stableWorkload: string;
  hashLabel: string;
  /** Instant query naming a version's pod-template-hash values (convention pod-template-hash). */
  hashLookup: string | null;
  /** Extra matchers added to each side's selector, e.g. `job="{{service}}"`. */
  match: string;
  metric: string;
  statusLabel: string;
  errorStatus: string;
  queries: { requests: string; errors: string; latency: string | null };
}

export const DEFAULT_QUERIES = {
  requests: 'sum by (instance) ({{metric}}_count{ {{selector}} })',
  errors: 'sum by (instance) ({{metric}}_count{ {{selector}}, {{status_label}}=~"{{error_status}}" })',
  latency: 'sum by (le, instance) ({{metric}}_bucket{ {{selector}} })',
} as const;

/** The placeholders each kind of template may use; anything else is a config error. */
export const PLACEHOLDERS = {
  match: ['service', 'environment'],
  workload: ['service', 'environment', 'version'],
  lookup: ['service', 'environment', 'version'],
  query: ['selector', 'metric', 'status_label', 'error_status', 'service', 'environment', 'version'],
} as const;

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g;

/** Placeholders in `template` that are not in `allowed`. */
export function unknownPlaceholders(template: string, allowed: readonly string[]): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((n) => !allowed.includes(n));
}

/** Fills in {{name}}; values are inserted as they are (names and versions hold no quotes). */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, n: string) => (n in values ? values[n] : whole));
}

/** A PromQL string literal. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** `s` matched literally inside a (fully anchored RE2) regular expression. */
export function regexLiteral(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface Who {
  service: string;
  environment: string;
  side: Side;
  version: string;
}

/**
 * The matchers picking one version's series (without braces). `hashes` are the values the
 * pod-template-hash lookup gave for this version (that convention only).
 */
export function selector(q: QuerySettings, who: Who, hashes: string[] = []): string {
  const names = { service: who.service, environment: who.environment };
  let own: string;
  switch (q.convention) {
    case 'version':
      own = `${q.versionLabel}=${quote(who.version)}`;
      break;
    case 'workload': {
      // The names are regular expressions (fully anchored) with the placeholders inserted
      // literally, so `{{service}}-primary-.+` can pick pods by name.
      const template = who.side === 'canary' ? q.canaryWorkload : q.stableWorkload;
      const escaped = Object.fromEntries(Object.entries({ ...names, version: who.version }).map(([k, v]) => [k, regexLiteral(v)]));
      own = `${q.workloadLabel}=~${quote(fill(template, escaped))}`;
      break;
    }
    case 'pod-template-hash':
      own = `${q.hashLabel}=~${quote(hashes.map(regexLiteral).join('|'))}`;
      break;
  }
  const extra = fill(q.match, names).trim();
  return extra ? `${own}, ${extra}` : own;
}

/** The query text of one kind for one version. */
export function queryFor(q: QuerySettings, kind: Kind, who: Who, hashes: string[] = []): string | null {
  const template = q.queries[kind];
  return template === null ? null : fillQuery(q, template, who, hashes);
}

/** Fills a query template (the source's own or a business metric's) for one version. */
export function fillQuery(q: QuerySettings, template: string, who: Who, hashes: string[] = []): string {
  return fill(template, {
    selector: selector(q, who, hashes),
    metric: q.metric,
    status_label: q.statusLabel,
    error_status: q.errorStatus,
    service: who.service,
    environment: who.environment,
    version: who.version,
  });
}

/** The coverage check for `errors`: the request series carry the status label at all (a
 * service without errors has no 5xx series, which is not missing monitoring). */
export function errorsCoverageQuery(q: QuerySettings, who: Who, hashes: string[] = []): string {
  return `count by (${q.statusLabel}) (${q.metric}_count{ ${selector(q, who, hashes)}, ${q.statusLabel}!="" })`;
}

/** The lookup query for a version's pod-template-hash values. */
export function lookupFor(q: QuerySettings, who: Who): string {
  return fill(q.hashLookup ?? '', { service: who.service, environment: who.environment, version: who.version });
}

/** The hash a lookup series names: its `hashLabel`, kube-state-metrics' `label_<hashLabel>`,
 * or its only label. */
export function hashOf(q: QuerySettings, labels: Record<string, string>): string | null {
  const own = labels[q.hashLabel] ?? labels[`label_${q.hashLabel}`];
  if (own) return own;
  const values = Object.entries(labels).filter(([k]) => k !== '__name__');
  return values.length === 1 && values[0][1] ? values[0][1] : null;
}

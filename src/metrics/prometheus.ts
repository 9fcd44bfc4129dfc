// The `prometheus` metrics source: each version's requests, errors and latency buckets read from
// Prometheus as raw cumulative counters at every step (never rate(), increase() or
// histogram_quantile(), which extrapolate and interpolate), differenced here, one batch per
// step. The cursor is the last step read and every series' value there, so a read never counts
// a request twice or loses one, however late a scrape lands. docs/prometheus.md explains the
// config, the conventions and the rules for missing series.
import { z } from 'zod';
import { DURATION, duration, durationSeconds } from '../config/duration.js';
import { type CoverageResult, type MetricsBatch, type MetricsContext, MetricsUnavailable, type MetricsSource, type RequiredMetric, type VersionCounts } from '../drivers/driver.js';
import { metricsPlugin } from './plugin.js';
import { baselineAt, type IndexedSide, indexSide, type LastValues, noValues, stepTo } from './prometheus-counters.js';
import { PrometheusClient } from './prometheus-http.js';
import { type Convention, DEFAULT_QUERIES, errorsCoverageQuery, fillQuery, hashOf, lookupFor, PLACEHOLDERS, queryFor, type QuerySettings, type Side, unknownPlaceholders, type Who } from './prometheus-queries.js';

export interface PrometheusSettings extends QuerySettings {
  url: string;
  tokenEnv: string | null;
  stepSeconds: number;
  timeoutMs: number;
  /** At most this many steps per read (Prometheus refuses 11,000 points per series); a read
   * further behind returns the first ones and the next read carries on. */
  maxSteps: number;
  maxResponseBytes: number;
}

// A duration's own check reports a malformed one; this one only adds "not zero".
const positive = (d: string | number) => d !== 0 && (!DURATION.test(String(d)) || durationSeconds(d) > 0);
const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'a Prometheus label name: letters, digits and _, not starting with a digit');
const template = z.string().min(1);

const section = z
  .strictObject({
    source: z.literal('prometheus'),
    url: z
      .string()
      .url()
      .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'expected an http:// or https:// URL')
      .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), 'put credentials in token_env, not in the url')
      .describe("Prometheus's base URL, e.g. http://prometheus.monitoring:9090"),
    token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe('environment variable holding a bearer token for Prometheus (never logged)'),
    step: duration.refine(positive, 'the step must be at least 1s').default('15s').describe('the scrape interval: counters are read and differenced once per step'),
    timeout: duration.refine(positive, 'the timeout must be at least 1s').default('10s').describe('per query to Prometheus'),
    convention: z.enum(['version', 'workload', 'pod-template-hash']).default('version').describe("how the canary's series are told from the stable's"),
    version_label: labelName.default('version').describe('convention version: the label holding the version string'),
    workload_label: labelName.default('job').describe('convention workload: the label naming the workload'),
    canary_workload: template.default('{{service}}-canary').describe("convention workload: the canary's workload (a regular expression; {{service}}, {{environment}}, {{version}})"),
    stable_workload: template.default('{{service}}-primary').describe("convention workload: the stable's workload (as canary_workload)"),
    hash_label: labelName.default('rollouts_pod_template_hash').describe('convention pod-template-hash: the label holding the hash'),
    hash_lookup: template.optional().describe("convention pod-template-hash: an instant query whose series name a version's hash ({{service}}, {{environment}}, {{version}})"),
    match: z.string().optional().describe('matchers added to each version\'s selector; default job="{{service}}" for convention version, none otherwise'),
    metric: z
      .string()
      .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a Prometheus metric name')
      .default('http_request_duration_seconds')
      .describe('the request duration histogram (its _bucket, _count series)'),
    status_label: labelName.default('status_code').describe('the label holding the HTTP status'),
    error_status: template.default('5..').describe('statuses that are errors (a regular expression)'),
    queries: z
      .strictObject({
        requests: template.optional(),
        errors: template.optional(),
        latency: template.nullable().optional().describe('null: read no latency'),
      })
      .default({})
      .describe('query templates replacing the defaults ({{selector}}, {{metric}}, {{status_label}}, {{error_status}}, {{service}}, {{environment}}, {{version}})'),
  })
  .superRefine((s, ctx) => {
    if (s.convention === 'pod-template-hash' && !s.hash_lookup) {
      ctx.addIssue({ code: 'custom', path: ['hash_lookup'], message: "convention pod-template-hash needs hash_lookup: an instant query naming a version's hash, e.g. max by (label_rollouts_pod_template_hash) (kube_replicaset_labels{label_app=\"{{service}}\", label_version=\"{{version}}\"})" });
    }
    const check = (path: (string | number)[], text: string | null | undefined, allowed: readonly string[]) => {
      const unknown = text ? unknownPlaceholders(text, allowed) : [];
      if (unknown.length) ctx.addIssue({ code: 'custom', path, message: `unknown placeholder ${unknown.map((u) => `{{${u}}}`).join(', ')}; this field takes ${allowed.map((a) => `{{${a}}}`).join(', ')}` });
    };
    check(['match'], s.match, PLACEHOLDERS.match);
    check(['canary_workload'], s.canary_workload, PLACEHOLDERS.workload);
    check(['stable_workload'], s.stable_workload, PLACEHOLDERS.workload);
    check(['hash_lookup'], s.hash_lookup, PLACEHOLDERS.lookup);
    for (const k of ['requests', 'errors', 'latency'] as const) check(['queries', k], s.queries[k], PLACEHOLDERS.query);
  });

export function prometheusSettings(raw: unknown): PrometheusSettings {
  const s = section.parse(raw);
  return {
    url: s.url,
    tokenEnv: s.token_env ?? null,
    stepSeconds: durationSeconds(s.step),
    timeoutMs: durationSeconds(s.timeout) * 1000,
    maxSteps: 1000,
    maxResponseBytes: 32 * 1024 * 1024,
    convention: s.convention as Convention,
    versionLabel: s.version_label,
    workloadLabel: s.workload_label,
    canaryWorkload: s.canary_workload,
    stableWorkload: s.stable_workload,
    hashLabel: s.hash_label,
    hashLookup: s.hash_lookup ?? null,
    match: s.match ?? (s.convention === 'version' ? 'job="{{service}}"' : ''),
    metric: s.metric,
    statusLabel: s.status_label,
    errorStatus: s.error_status,
    queries: {
      requests: s.queries.requests ?? DEFAULT_QUERIES.requests,
      errors: s.queries.errors ?? DEFAULT_QUERIES.errors,
      latency: s.queries.latency === null ? null : (s.queries.latency ?? DEFAULT_QUERIES.latency),
    },
  };
}

export const prometheus = metricsPlugin<PrometheusSettings>({
  kind: 'prometheus',
  description: 'per-version request, error and latency-bucket counters read raw from Prometheus and differenced per step',
  section,
  settings: (raw) => prometheusSettings(raw),
  create: (settings) => new PrometheusSource(settings),
});

interface Seen {
  requests: boolean;
  latency: boolean;
}

/** What the cursor carries (JSON). */
interface Cursor {
  v: 1;
  /** The last point read, unix seconds, on the step grid. */
  t: number;
  canary: string;
  stable: string | null;
  /** Each series' value at t; absent until the first read has read them. */
  last?: Record<Side, LastValues>;
  /** Whether each version has had series since the cursor was made. */
  seen?: Record<Side, Seen>;
}

interface SideQueries {
  who: Who;
  queries: { requests: string; errors: string; latency: string | null };
  indexed: IndexedSide;
}

const zero = (): VersionCounts => ({ requests: 0, errors: 0, latency: null });

export class PrometheusSource implements MetricsSource {
  readonly kind = 'prometheus';
  private readonly client: PrometheusClient;
  private readonly now: () => number;

  /** `now` (ms since the epoch) is a parameter so tests can read data they wrote in the past. */
  constructor(
    private readonly s: PrometheusSettings,
    opts: { now?: () => number } = {},
  ) {
    this.client = new PrometheusClient({ url: s.url, tokenEnv: s.tokenEnv, timeoutMs: s.timeoutMs, maxResponseBytes: s.maxResponseBytes });
    this.now = opts.now ?? Date.now;
  }

  /** The last step boundary at least a second ago: every cursor lies on the same grid
   * (multiples of the step), so batches are the same whoever reads them, and a scrape is stamped
   * with its start, so a sample stamped just before now may hold requests served after now.
   * Asks Prometheus nothing: the first read reads the values at that point. */
  async cursor(ctx: MetricsContext): Promise<string> {
    const c: Cursor = { v: 1, t: this.gridPoint(1), canary: ctx.canaryVersion, stable: ctx.stableVersion };
    return JSON.stringify(c);
  }

  async read(ctx: MetricsContext, cursorText: string | null): Promise<{ batches: MetricsBatch[]; cursor: string }> {
    const c = cursorText === null ? null : parseCursor(cursorText, ctx);
    // No cursor (or one from another source): from now on, as cursor() would say.
    if (!c) return { batches: [], cursor: await this.cursor(ctx) };
    const step = this.s.stepSeconds;
    const from = Math.floor(c.t / step) * step;
    const firstBatch = from + step;
    const last = this.gridPoint();
    if (last < firstBatch) return { batches: [], cursor: cursorText! };
    const end = Math.min(last, firstBatch + (this.s.maxSteps - 1) * step);
    const start = c.last ? firstBatch : from;

    const [canary, stable] = await Promise.all([this.fetchSide(ctx, 'canary', start, end), ctx.stableVersion === null ? null : this.fetchSide(ctx, 'stable', start, end)]);
    const sides = { canary, stable };
    const values: Record<Side, LastValues> = c.last ? structuredClone(c.last) : { canary: noValues(), stable: noValues() };
    const seen: Record<Side, Seen> = c.seen ? structuredClone(c.seen) : { canary: { requests: false, latency: false }, stable: { requests: false, latency: false } };
    if (!c.last) {
      for (const side of ['canary', 'stable'] as const) {
        const q = sides[side];
        if (!q) continue;
        const b = baselineAt(values[side], q.indexed, from);
        seen[side] = { requests: b.requestsSeen, latency: b.latencySeen };
      }
    }
    const batches: MetricsBatch[] = [];
    const served: Record<Side, number> = { canary: 0, stable: 0 };
    for (let t = firstBatch; t <= end; t += step) {
      const counts: Record<Side, VersionCounts> = { canary: zero(), stable: zero() };
      for (const side of ['canary', 'stable'] as const) {
        const q = sides[side];
        if (!q) continue;
        const r = stepTo(values[side], q.indexed, t);
        counts[side] = r.counts;
        seen[side].requests ||= r.requestsSeen;
        seen[side].latency ||= r.latencySeen;
        served[side] += r.counts.requests;
      }
      batches.push({ kind: 'counts', at: t * 1000, canary: counts.canary, stable: counts.stable });
    }
    for (const side of ['canary', 'stable'] as const) {
      const q = sides[side];
      if (q) this.checkPresent(side, q, seen[side], served, from, end);
    }
    const next: Cursor = { v: 1, t: end, canary: ctx.canaryVersion, stable: ctx.stableVersion, last: values, seen };
    return { batches, cursor: JSON.stringify(next) };
  }

  async coverage(ctx: MetricsContext, required: RequiredMetric[]): Promise<CoverageResult[]> {
    // Before a rollout the canary may not run yet: the version serving now is what is checked.
    const side: Side = ctx.stableVersion !== null ? 'stable' : 'canary';
    const who = this.who(ctx, side);
    const at = this.now() / 1000;
    let hashes: string[] = [];
    let lookupFailure: string | null = null;
    if (this.s.convention === 'pod-template-hash') {
      try {
        hashes = await this.hashes(who, at);
      } catch (err) {
        if (!(err instanceof MetricsUnavailable)) throw err;
        lookupFailure = err.message;
      }
    }
    const out: CoverageResult[] = [];
    for (const m of required) {
      const query = m.query !== null ? fillQuery(this.s, m.query, who, hashes) : this.standardQuery(m.name, who, hashes);
      if (query === null) {
        const why = m.name === 'latency' ? 'this source reads no latency (queries.latency: null)' : `no query given, and the prometheus source has none of its own for '${m.name}' (its own: requests, errors, latency)`;
        out.push({ name: m.name, query: m.name, found: false, detail: why });
        continue;
      }
      if (lookupFailure) {
        out.push({ name: m.name, query, found: false, detail: lookupFailure });
        continue;
      }
      try {
        const series = await this.client.instant(query, at);
        out.push({ name: m.name, query, found: series.length > 0, detail: series.length > 0 ? null : `no series for ${who.side} ${who.version} at ${iso(at)}` });
      } catch (err) {
        if (!(err instanceof MetricsUnavailable)) throw err;
        out.push({ name: m.name, query, found: false, detail: err.message });
      }
    }
    return out;
  }

  private standardQuery(name: string, who: Who, hashes: string[]): string | null {
    if (name === 'requests') return queryFor(this.s, 'requests', who, hashes);
    if (name === 'latency') return queryFor(this.s, 'latency', who, hashes);
    // A service without errors has no 5xx series: what must exist is the status label.
    if (name === 'errors') return errorsCoverageQuery(this.s, who, hashes);
    return null;
  }

  /** The three queries of one version over [start, end], run. */
  private async fetchSide(ctx: MetricsContext, side: Side, start: number, end: number): Promise<SideQueries> {
    const who = this.who(ctx, side);
    const hashes = this.s.convention === 'pod-template-hash' ? await this.hashes(who, end) : [];
    const queries = { requests: queryFor(this.s, 'requests', who, hashes)!, errors: queryFor(this.s, 'errors', who, hashes)!, latency: queryFor(this.s, 'latency', who, hashes) };
    const step = this.s.stepSeconds;
    const [requests, errors, latency] = await Promise.all([
      this.client.range(queries.requests, start, end, step),
      this.client.range(queries.errors, start, end, step),
      queries.latency === null ? Promise.resolve(null) : this.client.range(queries.latency, start, end, step),
    ]);
    return { who, queries, indexed: indexSide(requests, errors, latency) };
  }

  /** The pod-template-hash values of one version, from the lookup query at `at`. */
  private async hashes(who: Who, at: number): Promise<string[]> {
    const query = lookupFor(this.s, who);
    const found = [...new Set((await this.client.instant(query, at)).map((s) => hashOf(this.s, s.labels)).filter((h): h is string => h !== null))];
    if (found.length === 0) throw new MetricsUnavailable(`no pod-template-hash for the ${who.side} (${who.version}): the lookup ${query} named none at ${iso(at)}`);
    return found.sort();
  }

  /**
   * The rules for missing series (docs/prometheus.md): a version that has had no requests
   * series at all since the cursor, while the other version served, is missing (not scraped,
   * a selector matching nothing, or a canary that has not served its first request); a version
   * that served but never had a latency series is missing its histogram. Either way the read
   * fails and the cursor stays, so nothing is lost once the series appear.
   */
  private checkPresent(side: Side, q: SideQueries, seen: Seen, served: Record<Side, number>, from: number, end: number): void {
    const other: Side = side === 'canary' ? 'stable' : 'canary';
    const span = `between ${iso(from)} and ${iso(end)}`;
    if (!seen.requests && served[other] > 0) {
      throw new MetricsUnavailable(
        `no series for the ${side} (${q.who.version}) from ${q.queries.requests} ${span}, while the ${other} served ${served[other]} requests: the ${side} is not scraped, the selector matches none of its series, or it has not served a request yet`,
      );
    }
    if (q.queries.latency !== null && served[side] > 0 && !seen.latency) {
      throw new MetricsUnavailable(`no latency histogram for the ${side} (${q.who.version}) from ${q.queries.latency} ${span}, though it served ${served[side]} requests`);
    }
  }

  private who(ctx: MetricsContext, side: Side): Who {
    return { service: ctx.service, environment: ctx.environment, side, version: side === 'canary' ? ctx.canaryVersion : ctx.stableVersion! };
  }

  /** The last multiple of the step at least `lagSeconds` before now. */
  private gridPoint(lagSeconds = 0): number {
    const step = this.s.stepSeconds;
    return Math.floor((this.now() / 1000 - lagSeconds) / step) * step;
  }
}

/** A cursor of this source for these versions, or null. One made for other versions keeps its
 * time but not its values (they belong to other series). */
function parseCursor(text: string, ctx: MetricsContext): Cursor | null {
  let c: Cursor;
  try {
    c = JSON.parse(text);
  } catch {
    return null;
  }
  if (!c || typeof c !== 'object' || c.v !== 1 || !Number.isFinite(c.t)) return null;
  if (c.canary !== ctx.canaryVersion || c.stable !== ctx.stableVersion) return { v: 1, t: c.t, canary: ctx.canaryVersion, stable: ctx.stableVersion };
  return c;
}

function iso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}

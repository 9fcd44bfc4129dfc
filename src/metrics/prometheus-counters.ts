// Raw cumulative counters into per-step increments, the way shipgate reads Prometheus: each
// series is differenced against its own last value (a drop is a counter reset: the increment is
// then the new value), a series first seen counts from zero, and a series that is gone adds
// nothing until it comes back. Histogram buckets of one series group (the same labels but
// `le`) reset together, so a restarted process cannot leave the buckets out of order. Pure.
import { createHash } from 'node:crypto';
import type { LatencyHistogram, VersionCounts } from '../drivers/driver.js';
import type { Series } from './prometheus-http.js';

/** The last value of each series of one version, by a short hash of its labels (latency keys
 * end in `|<le>`), as the cursor carries them. */
export interface LastValues {
  requests: Record<string, number>;
  errors: Record<string, number>;
  latency: Record<string, number>;
}

export const noValues = (): LastValues => ({ requests: {}, errors: {}, latency: {} });

interface Counter {
  key: string;
  values: Map<number, number>;
}

interface Bucket extends Counter {
  group: string;
  le: string;
}

/** One version's answers over a range, keyed once. */
export interface IndexedSide {
  requests: Counter[];
  errors: Counter[];
  /** Null when the source reads no latency. */
  latency: Bucket[] | null;
}

export function indexSide(requests: Series[], errors: Series[], latency: Series[] | null): IndexedSide {
  return {
    requests: requests.map((s) => ({ key: hashLabels(s.labels), values: s.values })),
    errors: errors.map((s) => ({ key: hashLabels(s.labels), values: s.values })),
    latency:
      latency?.map((s) => {
        const { le = '+Inf', ...rest } = s.labels;
        const group = hashLabels(rest);
        return { key: `${group}|${le}`, group, le, values: s.values };
      }) ?? null,
  };
}

export interface SideStep {
  counts: VersionCounts;
  /** Whether any requests series / latency series of the version has a value at this point. */
  requestsSeen: boolean;
  latencySeen: boolean;
}

/** Moves `last` to point `t` and returns what the version served since the previous point. */
export function stepTo(last: LastValues, side: IndexedSide, t: number): SideStep {
  const requests = advanceCounters(last.requests, side.requests, t);
  const errors = advanceCounters(last.errors, side.errors, t);
  let latency: LatencyHistogram | null = null;
  let latencySeen = false;
  if (side.latency) {
    const increments = advanceBuckets(last.latency, side.latency, t);
    latencySeen = increments.seen;
    latency = histogram(last.latency, increments.byLe);
  }
  return { counts: { requests: requests.sum, errors: errors.sum, latency }, requestsSeen: requests.seen, latencySeen };
}

/** Records the values at `t` as the starting point, counting nothing. */
export function baselineAt(last: LastValues, side: IndexedSide, t: number): { requestsSeen: boolean; latencySeen: boolean } {
  const fresh = noValues();
  const r = advanceCounters(fresh.requests, side.requests, t);
  advanceCounters(fresh.errors, side.errors, t);
  const l = side.latency ? advanceBuckets(fresh.latency, side.latency, t) : { seen: false };
  Object.assign(last.requests, fresh.requests);
  Object.assign(last.errors, fresh.errors);
  Object.assign(last.latency, fresh.latency);
  return { requestsSeen: r.seen, latencySeen: l.seen };
}

function increment(prev: number | undefined, now: number): number {
  if (prev === undefined) return now;
  return now >= prev ? now - prev : now;
}

function advanceCounters(last: Record<string, number>, series: Counter[], t: number): { sum: number; seen: boolean } {
  let sum = 0;
  let seen = false;
  for (const s of series) {
    const v = s.values.get(t);
    if (v === undefined) continue;
    seen = true;
    sum += increment(last[s.key], v);
    last[s.key] = v;
  }
  return { sum, seen };
}

function advanceBuckets(last: Record<string, number>, buckets: Bucket[], t: number): { byLe: Map<string, number>; seen: boolean } {
  const present = buckets.filter((b) => b.values.has(t));
  const reset = new Set(present.filter((b) => last[b.key] !== undefined && b.values.get(t)! < last[b.key]).map((b) => b.group));
  const byLe = new Map<string, number>();
  for (const b of present) {
    const v = b.values.get(t)!;
    const inc = reset.has(b.group) ? v : increment(last[b.key], v);
    byLe.set(b.le, (byLe.get(b.le) ?? 0) + inc);
    last[b.key] = v;
  }
  return { byLe, seen: present.length > 0 };
}

/** Cumulative bucket increments into the judge's histogram: bounds in ms, counts per bucket,
 * over every bound the version has had (so batches share their bounds); null when it has none. */
function histogram(last: Record<string, number>, byLe: Map<string, number>): LatencyHistogram | null {
  const bounds = new Set<string>(byLe.keys());
  for (const k of Object.keys(last)) bounds.add(k.slice(k.indexOf('|') + 1));
  if (bounds.size === 0) return null;
  const sorted = [...bounds].map((le) => ({ le, ms: leMs(le) })).filter((b) => !Number.isNaN(b.ms));
  sorted.sort((a, b) => a.ms - b.ms);
  if (sorted.length === 0 || sorted[sorted.length - 1].ms !== Infinity) sorted.push({ le: '+Inf', ms: Infinity });
  const le: number[] = [];
  const counts: number[] = [];
  let below = 0;
  for (const b of sorted) {
    // A cumulative count below the previous bound's can only come from buckets scraped apart;
    // it is read as no request in this bucket rather than a negative count.
    const cumulative = Math.max(below, byLe.get(b.le) ?? below);
    le.push(b.ms);
    counts.push(cumulative - below);
    below = cumulative;
  }
  return { le, counts };
}

/** A Prometheus `le` label (seconds) in ms; NaN for what is not a bound. */
export function leMs(le: string): number {
  if (le === '+Inf' || le === 'Inf' || le === '+inf') return Infinity;
  const s = Number(le);
  return Number.isFinite(s) ? Number((s * 1000).toPrecision(12)) : NaN;
}

function hashLabels(labels: Record<string, string>): string {
  const canonical = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 12);
}

// The canary judge against the usual rules, on simulated traffic.
//
//   node --import tsx bench/canary-sim.ts [--runs 2000] [--healthy-runs 10000] [--seed 42]
//     [--scrape-runs <runs>] [--scrape-healthy-runs <healthy-runs>]
//
// Traffic: independent requests at 100 per second; the canary's share ramps 10% → 50% →
// 100%, one minute per step, then stays at 100% (10 minutes in all). Stable: 0.1% errors,
// latency log-normal with median 100 ms and sigma 0.5. Each case changes the canary only.
// Three judges look at the same kind of traffic:
// - shipgate: the sequential judge (src/domain/canary.ts), looking every second, with stable's
//   live traffic as the baseline ("two-sample"), and with the fleet's known rate as baseline;
// - Flagger-style: success rate of the canary over each 1-minute check < 99% is a failed
//   check; the 5th failed check rolls back;
// - Kayenta-style: every minute, a Mann-Whitney U test (two-sided, 5%) of canary against
//   stable on that minute's requests, for errors and for latency; any metric judged different
//   and worse rolls back.
// Figures are canary requests until the rollback (mean and p90 over the runs that detected),
// the share of runs that detected within the 10 minutes, and, for a healthy canary, the share
// of runs rolled back (false rollbacks) and canary requests until shipgate says `pass`.
// A healthy canary's run lasts as long as its rollout would: shipgate's until it has said
// `pass` and the ramp has reached 100% (promotion), the usual rules' the full 10 minutes.
// The seed's rollout, for shipgate only: 150 requests/s, steps 10% → 50% → 100%; a step moves
// on once the judge says `pass` and it has lasted min_step (30 s), `fail` rolls back, and a
// step still undecided after max_step (3 min) pauses, as the controller does. The 100% step
// has nothing to compare with, so reaching it is promotion. Its cases: the seed's successful
// canary (errors 0.3% against 0.1%, every latency 4% higher, so p95 +4%), which must be
// promoted in time in at least 95% of runs, a canary at 1.0% errors, which must be promoted in
// at most 1%, and one at the 0.5% limit itself.
// A Prometheus-like source (the last table): the same simulated requests, not looked at one by
// one but counted per version over each scrape interval, 5 s or 15 s: requests, errors, and a
// latency histogram with Prometheus' 10 default bounds (5, 10, 25, 50, 100, 250, 500, 1000,
// 2500, 5000 ms) and +Inf, counts per bucket (not cumulative), each batch being the difference
// of two scrapes of cumulative counters, exact (no rate() extrapolation), seen at the scrape's
// end (no query or evaluation lag). Scrapes divide the minute, so a scrape never straddles a
// step. The requests follow the same law as above, drawn one by one; as only their buckets are
// kept, a request's bucket is drawn from the log-normal's probability of each bucket (the same
// law as drawing its latency and counting it) — the tail case's +2 s requests draw a latency.
// In each run every scraped rule reads the same scrapes (--scrape-runs runs per case,
// --scrape-healthy-runs healthy, their defaults --runs and --healthy-runs), the run going on
// until every rule has decided or 10 minutes:
// - shipgate, 5 s / 15 s: the same judge (two-sample), fed one `observeCounts` batch per scrape
//   and judged after each: error tests on the counts, the latency test on bucket midpoints,
//   the tail tests on requests above bucket bounds (see src/domain/canary.ts);
// - Flagger-style, from the scrapes (the same from 5 s or 15 s ones: a minute's counter
//   increase is the sum of its scrapes'): per 1-minute check, the canary's success rate
//   1 − Δerrors/Δrequests < 99%, or its p99 read as PromQL's histogram_quantile does (linear
//   interpolation within the bucket holding the rank, the last finite bound in +Inf) over the
//   minute's bucket increases > 500 ms (Flagger's documented request-duration threshold; a
//   fixed one, since from the third minute there is no stable traffic to scale it by), is one
//   failed check; the 5th rolls back. Unlike the per-request Flagger-style rule above, this one
//   also has the latency check;
// - Kayenta-style, 5 s / 15 s: every minute, for each version, one point per scrape in that
//   minute with traffic: its error rate and its mean latency read from the buckets (each
//   bucket at the midpoint of its bounds, 2.5 ms for the first, 5000 ms for +Inf); with at
//   least 3 points per version (12 at 5 s, 4 at 15 s while both versions serve), a
//   Mann-Whitney U test (two-sided, 5%, normal approximation with ties) per metric, canary
//   against stable; either judged different and worse rolls back.
// Its figures: canary requests and seconds (since the ramp's start, at 100 requests/s) until
// the rollback, mean/median/p90 over the runs that detected, and the share detected, with
// shipgate per request (the two-sample cell of the first table) beside; for the healthy canary
// false rollbacks (and for shipgate canary requests and seconds until `pass`; its run ends at
// promotion, as above).
// The runs are split over two worker threads; each (case, judge) cell has its own seed, and so
// does each case of the scraped rules.
import os from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createCanaryJudge, type CanaryRequest } from '../src/domain/canary.js';
import { gaussian, mulberry32 } from '../test/support/random.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RUNS = opt('runs', 2000);
const HEALTHY_RUNS = opt('healthy-runs', 10000);
const SEED = opt('seed', 42);
const SCRAPE_RUNS = opt('scrape-runs', RUNS);
const SCRAPE_HEALTHY_RUNS = opt('scrape-healthy-runs', HEALTHY_RUNS);
for (const [name, v] of Object.entries({ runs: RUNS, 'healthy-runs': HEALTHY_RUNS, 'scrape-runs': SCRAPE_RUNS, 'scrape-healthy-runs': SCRAPE_HEALTHY_RUNS })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} takes a whole number ≥ 1, not ${v}`);
}
if (!Number.isFinite(SEED)) throw new Error(`--seed takes a number, not ${SEED}`);

const RPS = 100;
const STEP_SECONDS = 60;
const HORIZON_SECONDS = 600;
const LOOK_EVERY = 100; // shipgate looks once a second
const STABLE_ERRORS = 0.001;
const MEDIAN_MS = 100;
const SIGMA = 0.5;

interface Case {
  name: string;
  errorRate: number;
  latencyFactor: number;
  tail: { share: number; addMs: number } | null;
}

const CASES: Case[] = [
  { name: 'errors 0.1% → 2.1%', errorRate: 0.021, latencyFactor: 1, tail: null },
  { name: 'errors 0.1% → 0.5%', errorRate: 0.005, latencyFactor: 1, tail: null },
  { name: 'latency ×2', errorRate: STABLE_ERRORS, latencyFactor: 2, tail: null },
  { name: 'latency ×1.25', errorRate: STABLE_ERRORS, latencyFactor: 1.25, tail: null },
  { name: 'tail: 5% of requests +2 s', errorRate: STABLE_ERRORS, latencyFactor: 1, tail: { share: 0.05, addMs: 2000 } },
];
const HEALTHY: Case = { name: 'healthy (same version)', errorRate: STABLE_ERRORS, latencyFactor: 1, tail: null };

const ROLLOUT = { rps: 150, steps: [0.1, 0.5], minStepSeconds: 30, maxStepSeconds: 180 };
const ROLLOUT_CASES: (Case & { promote: boolean | null })[] = [
  { name: 'seed success: errors 0.3%, p95 +4%', errorRate: 0.003, latencyFactor: 1.04, tail: null, promote: true },
  { name: 'errors 1.0%', errorRate: 0.01, latencyFactor: 1, tail: null, promote: false },
  // At the limit itself: no target, shown so the boundary's behaviour is on record.
  { name: 'errors 0.5% (the limit)', errorRate: 0.005, latencyFactor: 1, tail: null, promote: null },
];


function shareAt(second: number): number {
  return second < STEP_SECONDS ? 0.1 : second < 2 * STEP_SECONDS ? 0.5 : 1;
}

function request(rand: () => number, c: Case | null, at: number): CanaryRequest {
  const canary = c !== null;
  const errRate = canary ? c.errorRate : STABLE_ERRORS;
  let latency = MEDIAN_MS * Math.exp(SIGMA * gaussian(rand)) * (canary ? c.latencyFactor : 1);
  if (canary && c.tail && rand() < c.tail.share) latency += c.tail.addMs;
  const error = rand() < errRate;
  return { at, version: canary ? 'canary' : 'stable', status: error ? 500 : 200, latencyMs: latency, error };
}

/** One simulated minute-by-second of traffic, handed to `look` once a second. */
function* traffic(rand: () => number, c: Case): Generator<{ second: number; share: number; batch: CanaryRequest[] }> {
  for (let second = 0; second < HORIZON_SECONDS; second++) {
    const share = shareAt(second);
    const batch: CanaryRequest[] = [];
    for (let i = 0; i < LOOK_EVERY; i++) batch.push(request(rand, rand() < share ? c : null, second * 1000 + i * 10));
    yield { second, share, batch };
  }
}

// ---- the judges -----------------------------------------------------------------------------

/** One run of one judge: whether and when it rolled back (canary requests so far, and seconds
 * since the start at the look that decided), and when shipgate first said `pass`. */
type Outcome = { detected: boolean; canaryRequests: number; seconds: number; passAt: number | null; passSeconds: number | null };

function shipgate(rand: () => number, c: Case, baseline: number | null, untilPass = false): Outcome {
  const judge = createCanaryJudge({ baselineErrorRate: baseline });
  let state = judge.start();
  let canary = 0;
  let passAt: number | null = null;
  let passSeconds: number | null = null;
  for (const { second, share, batch } of traffic(rand, c)) {
    for (const r of batch) if (r.version === 'canary') canary++;
    state = judge.observe(state, batch, share, { inPlace: true });
    const v = judge.judge(state).verdict;
    if (v === 'fail') return { detected: true, canaryRequests: canary, seconds: second + 1, passAt, passSeconds };
    if (v === 'pass' && passAt === null) {
      passAt = canary;
      passSeconds = second + 1;
    }
    // Promotion: the ramp is at 100% and the analysis has passed.
    if (untilPass && passAt !== null && share >= 1) return { detected: false, canaryRequests: canary, seconds: second + 1, passAt, passSeconds };
  }
  return { detected: false, canaryRequests: canary, seconds: HORIZON_SECONDS, passAt, passSeconds };
}

type RolloutOutcome = { end: 'promoted' | 'rolled back' | 'paused'; seconds: number; firstStepSeconds: number | null; canaryRequests: number };

function rollout(rand: () => number, c: Case, baseline: number | null): RolloutOutcome {
  const judge = createCanaryJudge({ baselineErrorRate: baseline });
  let state = judge.start();
  let seconds = 0;
  let canary = 0;
  let firstStepSeconds: number | null = null;
  for (const share of ROLLOUT.steps) {
    for (let elapsed = 1; ; elapsed++) {
      const batch: CanaryRequest[] = [];
      for (let i = 0; i < ROLLOUT.rps; i++) {
        const r = request(rand, rand() < share ? c : null, seconds * 1000 + Math.floor((i * 1000) / ROLLOUT.rps));
        if (r.version === 'canary') canary++;
        batch.push(r);
      }
      seconds++;
      state = judge.observe(state, batch, share, { inPlace: true });
      const v = judge.judge(state).verdict;
      if (v === 'fail') return { end: 'rolled back', seconds, firstStepSeconds, canaryRequests: canary };
      if (v === 'pass' && elapsed >= ROLLOUT.minStepSeconds) break;
      if (elapsed >= ROLLOUT.maxStepSeconds) return { end: 'paused', seconds, firstStepSeconds, canaryRequests: canary };
    }
    firstStepSeconds ??= seconds;
  }
  return { end: 'promoted', seconds, firstStepSeconds, canaryRequests: canary };
}

function flagger(rand: () => number, c: Case): Outcome {
  let failed = 0;
  let canary = 0;
  let errors = 0;
  let inMinute = 0;
  for (const { second, batch } of traffic(rand, c)) {
    for (const r of batch) {
      if (r.version !== 'canary') continue;
      canary++;
      inMinute++;
      if (r.error) errors++;
    }
    if ((second + 1) % 60 === 0) {
      if (inMinute > 0 && 1 - errors / inMinute < 0.99) failed++;
      if (failed >= 5) return { detected: true, canaryRequests: canary, seconds: second + 1, passAt: null, passSeconds: null };
      errors = 0;
      inMinute = 0;
    }
  }
  return { detected: false, canaryRequests: canary, seconds: HORIZON_SECONDS, passAt: null, passSeconds: null };
}

function kayenta(rand: () => number, c: Case): Outcome {
  let canary = 0;
  let window: CanaryRequest[] = [];
  for (const { second, batch } of traffic(rand, c)) {
    for (const r of batch) if (r.version === 'canary') canary++;
    window.push(...batch);
    if ((second + 1) % 60 === 0) {
      const cw = window.filter((r) => r.version === 'canary');
      const sw = window.filter((r) => r.version === 'stable');
      if (cw.length >= 10 && sw.length >= 10) {
        const worse = (a: number[], b: number[]) => {
          const { z } = mannWhitney(a, b);
          return z > 1.959964; // two-sided 5%, and the canary's values are the larger
        };
        if (worse(cw.map((r) => (r.error ? 1 : 0)), sw.map((r) => (r.error ? 1 : 0))) || worse(cw.map((r) => r.latencyMs), sw.map((r) => r.latencyMs))) {
          return { detected: true, canaryRequests: canary, seconds: second + 1, passAt: null, passSeconds: null };
        }
      }
      window = [];
    }
  }
  return { detected: false, canaryRequests: canary, seconds: HORIZON_SECONDS, passAt: null, passSeconds: null };
}

/** Mann-Whitney U with the normal approximation and tie correction; z > 0: a tends larger. */
function mannWhitney(a: number[], b: number[]): { z: number } {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  let rankA = 0;
  let tie = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].v === all[i].v) j++;
    const avg = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (all[k].g === 0) rankA += avg;
    const t = j - i;
    tie += t * t * t - t;
    i = j;
  }
  const n1 = a.length;
  const n2 = b.length;
  const u = rankA - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tie / (n * (n - 1))));
  return { z: sd > 0 ? (u - mu) / sd : 0 };
}

// ---- a Prometheus-like source: the same requests, as counters per scrape interval ------------

/** Prometheus' default histogram bounds 0.005 … 5 s (its 10 s one left out: 10 bounds), in ms, +Inf last. */
const PROM_LE = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Infinity];
const SCRAPE_SECONDS = [5, 15] as const;
const BASE_SCRAPE = 5; // every scrape interval is a multiple of this, and divides a minute
const ANALYSIS_SECONDS = 60; // the usual rules' analysis interval
const FLAGGER_P99_MS = 500; // Flagger's documented request-duration example (max 500 ms)
const FLAGGER_MIN_SUCCESS = 0.99;
const FLAGGER_THRESHOLD = 5;
const KAYENTA_MIN_POINTS = 3; // per version and minute, else that minute is not judged
/** Each bucket's value for a mean: the midpoint of its bounds; +Inf reads as its lower bound. */
const PROM_MID = PROM_LE.map((b, i) => (Number.isFinite(b) ? ((i === 0 ? 0 : PROM_LE[i - 1]) + b) / 2 : PROM_LE[i - 1]));

interface Counts {
  requests: number;
  errors: number;
  latency: { le: number[]; counts: number[] };
}
interface Scrape {
  canary: Counts;
  stable: Counts;
}

const emptyScrape = (): Scrape => ({
  canary: { requests: 0, errors: 0, latency: { le: PROM_LE, counts: PROM_LE.map(() => 0) } },
  stable: { requests: 0, errors: 0, latency: { le: PROM_LE, counts: PROM_LE.map(() => 0) } },
});

function addScrape(into: Scrape, from: Scrape): void {
  for (const v of ['canary', 'stable'] as const) {
    into[v].requests += from[v].requests;
    into[v].errors += from[v].errors;
    for (let i = 0; i < PROM_LE.length; i++) into[v].latency.counts[i] += from[v].latency.counts[i];
  }
}

/** The bucket a latency is counted in: the first bound at or above it (`le` is inclusive). */
function bucketOf(ms: number): number {
  for (let i = 0; i < PROM_LE.length - 1; i++) if (ms <= PROM_LE[i]) return i;
  return PROM_LE.length - 1;
}

/** Φ, the standard normal distribution function, by Simpson's rule on the density from 0
 * (4,000 steps: error far below 1e-9 on |z| ≤ 10; computed a few times per worker only). */
function normalCdf(z: number): number {
  const x = Math.min(Math.abs(z), 10);
  const steps = 4000;
  const h = x / steps;
  let sum = 0;
  for (let i = 0; i <= steps; i++) sum += (i === 0 || i === steps ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2) / 2);
  const half = ((h / 3) * sum) / Math.sqrt(2 * Math.PI);
  return z >= 0 ? 0.5 + half : 0.5 - half;
}

const bucketCdfs = new Map<number, number[]>();
/** P(latency ≤ each bound) for latency MEDIAN_MS·factor·exp(SIGMA·Z), the last being 1. */
function bucketCdf(factor: number): number[] {
  let cdf = bucketCdfs.get(factor);
  if (!cdf) {
    cdf = PROM_LE.map((b) => (Number.isFinite(b) ? normalCdf(Math.log(b / (MEDIAN_MS * factor)) / SIGMA) : 1));
    bucketCdfs.set(factor, cdf);
  }
  return cdf;
}

/** The bucket of one log-normal request, drawn by inverting its distribution over the buckets:
 * the same law as drawing the latency as request() does and counting it, at a fraction of the
 * cost (the scraped rules read bucket counts only). */
function drawBucket(rand: () => number, cdf: number[]): number {
  const u = rand();
  for (let i = 0; i < cdf.length - 1; i++) if (u < cdf[i]) return i;
  return cdf.length - 1;
}

/** PromQL's histogram_quantile on one histogram (not cumulative here): linear interpolation
 * within the bucket holding rank q·total, from 0 in the first; in +Inf, the last finite bound. */
function histogramQuantile(q: number, h: { le: number[]; counts: number[] }): number {
  const total = h.counts.reduce((a, x) => a + x, 0);
  if (total === 0) return NaN;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < h.counts.length; i++) {
    if (below + h.counts[i] >= rank && h.counts[i] > 0) {
      if (!Number.isFinite(h.le[i])) return h.le[i - 1];
      const lo = i === 0 ? 0 : h.le[i - 1];
      return lo + ((h.le[i] - lo) * (rank - below)) / h.counts[i];
    }
    below += h.counts[i];
  }
  return h.le[h.le.length - 2];
}

/** Mean latency of one scrape read from its buckets (bucket midpoints), for Kayenta-style. */
function bucketMean(h: { counts: number[] }): number {
  let n = 0;
  let sum = 0;
  for (let i = 0; i < h.counts.length; i++) {
    n += h.counts[i];
    sum += h.counts[i] * PROM_MID[i];
  }
  return n ? sum / n : NaN;
}

const SCRAPED_JUDGES = [
  ...SCRAPE_SECONDS.map((s) => `shipgate, ${s} s scrapes`),
  'Flagger-style, scrapes',
  ...SCRAPE_SECONDS.map((s) => `Kayenta-style, ${s} s scrapes`),
];

/**
 * One run of traffic as a Prometheus-like source sees it, judged by every scraped rule at once
 * (the same requests for all): shipgate's judge fed one counts batch per scrape, at each scrape
 * interval; the Flagger-style rule on the counters and histogram over each minute; the
 * Kayenta-style rule on each minute's per-scrape values, at each scrape interval. The run goes
 * on until every rule has decided or the horizon; each rule's outcome is taken where it decided.
 */
function scraped(rand: () => number, c: Case): Outcome[] {
  const untilPass = c === HEALTHY;
  const out: (Outcome | null)[] = SCRAPED_JUDGES.map(() => null);
  const kFlagger = SCRAPE_SECONDS.length;
  const kKayenta = kFlagger + 1;
  const sg = SCRAPE_SECONDS.map((every) => {
    const judge = createCanaryJudge();
    return { every, judge, state: judge.start(), acc: emptyScrape(), passAt: null as number | null, passSeconds: null as number | null };
  });
  const kay = SCRAPE_SECONDS.map((every) => ({ every, acc: emptyScrape(), canary: { err: [] as number[], lat: [] as number[] }, stable: { err: [] as number[], lat: [] as number[] } }));
  let minute = emptyScrape();
  let failedChecks = 0;
  let canary = 0;
  let cur = emptyScrape();
  const stableCdf = bucketCdf(1);
  const canaryCdf = bucketCdf(c.latencyFactor);
  for (let second = 0; second < HORIZON_SECONDS && out.some((o) => o === null); second++) {
    const share = shareAt(second);
    for (let i = 0; i < RPS; i++) {
      // The same law as request(), counted instead of kept: canary with the step's share; a
      // tail request draws its latency (log-normal + addMs), any other its bucket directly.
      const isCanary = rand() < share;
      const bucket =
        isCanary && c.tail && rand() < c.tail.share
          ? bucketOf(MEDIAN_MS * Math.exp(SIGMA * gaussian(rand)) * c.latencyFactor + c.tail.addMs)
          : drawBucket(rand, isCanary ? canaryCdf : stableCdf);
      const error = rand() < (isCanary ? c.errorRate : STABLE_ERRORS);
      const v = isCanary ? cur.canary : cur.stable;
      v.requests++;
      if (error) v.errors++;
      v.latency.counts[bucket]++;
      if (isCanary) canary++;
    }
    const t = second + 1;
    if (t % BASE_SCRAPE !== 0) continue;
    // The share is constant within a scrape: steps change on minutes, which scrapes divide.
    const base = cur;
    cur = emptyScrape();
    sg.forEach((g, k) => {
      if (out[k]) return;
      addScrape(g.acc, base);
      if (t % g.every !== 0) return;
      g.state = g.judge.observeCounts(g.state, { at: t * 1000, canary: g.acc.canary, stable: g.acc.stable }, share, { inPlace: true });
      g.acc = emptyScrape();
      const v = g.judge.judge(g.state).verdict;
      if (v === 'fail') out[k] = { detected: true, canaryRequests: canary, seconds: t, passAt: g.passAt, passSeconds: g.passSeconds };
      else {
        if (v === 'pass' && g.passAt === null) {
          g.passAt = canary;
          g.passSeconds = t;
        }
        if (untilPass && g.passAt !== null && share >= 1) out[k] = { detected: false, canaryRequests: canary, seconds: t, passAt: g.passAt, passSeconds: g.passSeconds };
      }
    });
    kay.forEach((g, k) => {
      if (out[kKayenta + k]) return;
      addScrape(g.acc, base);
      if (t % g.every === 0) {
        for (const v of ['canary', 'stable'] as const) {
          const x = g.acc[v];
          if (x.requests === 0) continue;
          g[v].err.push(x.errors / x.requests);
          g[v].lat.push(bucketMean(x.latency));
        }
        g.acc = emptyScrape();
      }
      if (t % ANALYSIS_SECONDS !== 0) return;
      if (g.canary.err.length >= KAYENTA_MIN_POINTS && g.stable.err.length >= KAYENTA_MIN_POINTS) {
        const worse = (a: number[], b: number[]) => mannWhitney(a, b).z > 1.959964; // two-sided 5%, canary larger
        if (worse(g.canary.err, g.stable.err) || worse(g.canary.lat, g.stable.lat)) out[kKayenta + k] = { detected: true, canaryRequests: canary, seconds: t, passAt: null, passSeconds: null };
      }
      g.canary = { err: [], lat: [] };
      g.stable = { err: [], lat: [] };
    });
    if (!out[kFlagger]) {
      addScrape(minute, base);
      if (t % ANALYSIS_SECONDS === 0) {
        // success rate = 1 - increase(errors[1m]) / increase(requests[1m]); p99 =
        // histogram_quantile(0.99, increase(bucket[1m])): the canary's series only.
        const m = minute.canary;
        if (m.requests > 0) {
          const success = 1 - m.errors / m.requests;
          const p99 = histogramQuantile(0.99, m.latency);
          if (success < FLAGGER_MIN_SUCCESS || p99 > FLAGGER_P99_MS) failedChecks++;
        }
        if (failedChecks >= FLAGGER_THRESHOLD) out[kFlagger] = { detected: true, canaryRequests: canary, seconds: t, passAt: null, passSeconds: null };
        minute = emptyScrape();
      }
    }
  }
  return out.map(
    (o, k) =>
      o ?? { detected: false, canaryRequests: canary, seconds: HORIZON_SECONDS, passAt: k < sg.length ? sg[k].passAt : null, passSeconds: k < sg.length ? sg[k].passSeconds : null },
  );
}

// ---- the table -------------------------------------------------------------------------------

function summarize(outcomes: Outcome[]): { rate: number; mean: number | null; p90: number | null } {
  const hits = outcomes.filter((o) => o.detected).map((o) => o.canaryRequests).sort((a, b) => a - b);
  if (hits.length === 0) return { rate: 0, mean: null, p90: null };
  return { rate: hits.length / outcomes.length, mean: hits.reduce((a, x) => a + x, 0) / hits.length, p90: hits[Math.min(hits.length - 1, Math.floor(0.9 * hits.length))] };
}

const cell = (s: { rate: number; mean: number | null; p90: number | null }) =>
  s.mean === null ? 'never'.padStart(24) : `${s.mean.toFixed(0).padStart(6)} ${String(s.p90).padStart(6)} ${(s.rate * 100).toFixed(1).padStart(6)}%`.padStart(24);

const judges: [string, (rand: () => number, c: Case) => Outcome][] = [
  ['shipgate (two-sample)', (r, c) => shipgate(r, c, null, c === HEALTHY)],
  ['shipgate (known 0.1%)', (r, c) => shipgate(r, c, STABLE_ERRORS, c === HEALTHY)],
  ['Flagger-style', flagger],
  ['Kayenta-style', kayenta],
];
const ALL_CASES = [...CASES, HEALTHY];

const rolloutJudges: [string, number | null][] = [
  ['shipgate (two-sample)', null],
  ['shipgate (known 0.1%)', STABLE_ERRORS],
];

interface Task {
  kind: 'table' | 'rollout' | 'scrape';
  caseIndex: number;
  judgeIndex: number;
  runs: number;
  seed: number;
}

function runTask(t: Task): (Outcome | RolloutOutcome | Outcome[])[] {
  const rand = mulberry32(t.seed);
  if (t.kind === 'scrape') return Array.from({ length: t.runs }, () => scraped(rand, ALL_CASES[t.caseIndex]));
  if (t.kind === 'rollout') return Array.from({ length: t.runs }, () => rollout(rand, ROLLOUT_CASES[t.caseIndex], rolloutJudges[t.judgeIndex][1]));
  const c = ALL_CASES[t.caseIndex];
  return Array.from({ length: t.runs }, () => judges[t.judgeIndex][1](rand, c));
}

if (!isMainThread) {
  const tasks = workerData as Task[];
  parentPort!.postMessage(tasks.map((t) => ({ task: t, outcomes: runTask(t) })));
} else {
  const started = performance.now();
  const workers = Math.max(1, Math.min(2, os.cpus().length));
  const tasks: Task[] = [];
  ALL_CASES.forEach((c, ci) =>
    judges.forEach((_, ji) => {
      const runs = c === HEALTHY ? HEALTHY_RUNS : RUNS;
      for (let w = 0; w < workers; w++) {
        tasks.push({ kind: 'table', caseIndex: ci, judgeIndex: ji, runs: Math.floor(runs / workers) + (w < runs % workers ? 1 : 0), seed: SEED * 100_000 + ci * 1000 + ji * 10 + w });
      }
    }),
  );
  ROLLOUT_CASES.forEach((_, ci) =>
    rolloutJudges.forEach((_, ji) => {
      for (let w = 0; w < workers; w++) {
        tasks.push({ kind: 'rollout', caseIndex: ci, judgeIndex: ji, runs: Math.floor(RUNS / workers) + (w < RUNS % workers ? 1 : 0), seed: SEED * 100_000 + 50_000 + ci * 1000 + ji * 10 + w });
      }
    }),
  );
  ALL_CASES.forEach((c, ci) => {
    const runs = c === HEALTHY ? SCRAPE_HEALTHY_RUNS : SCRAPE_RUNS;
    for (let w = 0; w < workers; w++) {
      tasks.push({ kind: 'scrape', caseIndex: ci, judgeIndex: 0, runs: Math.floor(runs / workers) + (w < runs % workers ? 1 : 0), seed: SEED * 100_000 + 70_000 + ci * 1000 + w });
    }
  });
  const shares: Task[][] = Array.from({ length: workers }, () => []);
  tasks.forEach((t, i) => shares[i % workers].push(t));
  const results = (
    await Promise.all(
      shares.map(
        (share) =>
          new Promise<{ task: Task; outcomes: (Outcome | RolloutOutcome | Outcome[])[] }[]>((resolve, reject) => {
            // The worker loads this same file through tsx, then takes the !isMainThread branch.
            const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
            const w = new Worker(boot, { eval: true, workerData: share });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    )
  ).flat();
  const outcomesOf = (ci: number, ji: number) => results.filter((r) => r.task.kind === 'table' && r.task.caseIndex === ci && r.task.judgeIndex === ji).flatMap((r) => r.outcomes as Outcome[]);
  /** Per run, one outcome per scraped rule, all on the same requests. */
  const scrapedOf = (ci: number) => results.filter((r) => r.task.kind === 'scrape' && r.task.caseIndex === ci).flatMap((r) => r.outcomes as Outcome[][]);
  const rolloutsOf = (ci: number, ji: number) => results.filter((r) => r.task.kind === 'rollout' && r.task.caseIndex === ci && r.task.judgeIndex === ji).flatMap((r) => r.outcomes as RolloutOutcome[]);

  console.log(`canary judges on simulated traffic: ${RPS} req/s, canary 10% → 50% → 100% (1 min each), ${HORIZON_SECONDS / 60} min horizon, seed ${SEED}`);
  console.log(`runs per case: ${RUNS} (healthy: ${HEALTHY_RUNS}); figures: canary requests to detect — mean, p90 — and share of runs detected\n`);
  console.log(`${'case'.padEnd(28)}${judges.map(([n]) => n.padStart(24)).join('')}`);
  console.log(`${''.padEnd(28)}${judges.map(() => '  mean    p90 detected'.padStart(24)).join('')}`);
  const table: ReturnType<typeof summarize>[][] = [];
  CASES.forEach((c, ci) => {
    table[ci] = judges.map((_, ji) => summarize(outcomesOf(ci, ji)));
    console.log(`${c.name.padEnd(28)}${table[ci].map(cell).join('')}`);
  });
  const hi = ALL_CASES.length - 1;
  const healthyRow = judges.map((_, ji) => {
    const o = outcomesOf(hi, ji);
    return `${((o.filter((x) => x.detected).length / o.length) * 100).toFixed(2)}% false`.padStart(24);
  });
  console.log(`${'healthy: false rollbacks'.padEnd(28)}${healthyRow.join('')}`);
  for (const ji of [0, 1]) {
    const passes = outcomesOf(hi, ji).filter((o) => o.passAt !== null).map((o) => o.passAt!).sort((a, b) => a - b);
    const mean = passes.reduce((a, x) => a + x, 0) / Math.max(passes.length, 1);
    console.log(
      `healthy, ${judges[ji][0]}: \`pass\` after ${mean.toFixed(0)} canary requests on average (p90 ${passes[Math.floor(0.9 * passes.length)] ?? 'n/a'}), in ${((passes.length / HEALTHY_RUNS) * 100).toFixed(1)}% of runs within ${HORIZON_SECONDS / 60} min`,
    );
  }
  // A bad canary the judge said `pass` to before rolling it back would have been promoted by a
  // rollout whose step had lasted min_step by then.
  const passedFirst = CASES.map((c, ci) =>
    [0, 1].map((ji) => {
      const o = outcomesOf(ci, ji);
      return `${((o.filter((x) => x.passAt !== null).length / o.length) * 100).toFixed(1)}%`;
    }),
  );
  console.log(`shipgate said \`pass\` at some look (two-sample / known 0.1%): ${CASES.map((c, ci) => `${c.name} ${passedFirst[ci].join(' / ')}`).join('; ')}`);

  console.log(`\nthe seed's rollout: ${ROLLOUT.rps} req/s, steps ${ROLLOUT.steps.map((x) => `${x * 100}%`).join(' → ')} → 100%, min_step ${ROLLOUT.minStepSeconds} s, max_step ${ROLLOUT.maxStepSeconds / 60} min; ${RUNS} runs per case`);
  console.log(`${'case'.padEnd(38)}${'judge'.padEnd(24)}${'promoted'.padStart(9)}${'rolled back'.padStart(12)}${'paused'.padStart(8)}   promoted after (s): 10% step median/p90, in all median/p90`);
  ROLLOUT_CASES.forEach((c, ci) =>
    rolloutJudges.forEach(([name], ji) => {
      const o = rolloutsOf(ci, ji);
      const share = (end: RolloutOutcome['end']) => `${((o.filter((x) => x.end === end).length / o.length) * 100).toFixed(1)}%`;
      const promoted = o.filter((x) => x.end === 'promoted');
      const q = (xs: number[], p: number) => (xs.length ? String(xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]) : 'n/a');
      const first = promoted.map((x) => x.firstStepSeconds!);
      const all = promoted.map((x) => x.seconds);
      const target = c.promote === null ? '' : c.promote ? '(target ≥ 95%)' : '(target ≤ 1%)';
      console.log(
        `${c.name.padEnd(38)}${name.padEnd(24)}${share('promoted').padStart(9)}${share('rolled back').padStart(12)}${share('paused').padStart(8)}   ${q(first, 0.5)}/${q(first, 0.9)}, ${q(all, 0.5)}/${q(all, 0.9)}${target && ` ${target}`}`,
      );
    }),
  );
  const sg = table[0][1];
  const fl = table[0][2];
  if (sg.mean !== null && fl.mean !== null) console.log(`errors 0.1% → 2.1%: the Flagger-style rule needs ${(fl.mean / sg.mean).toFixed(1)}× the canary requests of shipgate (known baseline)`);

  // The Prometheus-like source: every scraped rule on the same runs, shipgate per request beside.
  const dist = (xs: number[]) => {
    if (xs.length === 0) return null;
    const s = [...xs].sort((a, b) => a - b);
    const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { mean: s.reduce((a, x) => a + x, 0) / s.length, median: at(0.5), p90: at(0.9) };
  };
  const three = (d: ReturnType<typeof dist>, w: number) => (d ? `${d.mean.toFixed(0).padStart(w)}${String(d.median).padStart(w)}${String(d.p90).padStart(w)}` : 'never'.padStart(3 * w));
  const pctOf = (k: number, n: number) => `${((k / n) * 100).toFixed(1)}%`;
  const rules: [string, (ci: number) => Outcome[]][] = [
    ['shipgate, every request (table above)', (ci) => outcomesOf(ci, 0)],
    ...SCRAPED_JUDGES.map((name, k): [string, (ci: number) => Outcome[]] => [name, (ci) => scrapedOf(ci).map((run) => run[k])]),
  ];
  console.log(
    `\na Prometheus-like source: the same traffic as counters per scrape interval (${SCRAPE_SECONDS.join(' s and ')} s): per version requests, errors and a latency histogram (le ${PROM_LE.slice(0, -1).join(', ')} ms, +Inf), each batch the difference of two scrapes; ${SCRAPE_RUNS} runs per case (healthy: ${SCRAPE_HEALTHY_RUNS}), every scraped rule on the same runs`,
  );
  console.log(
    `shipgate: observeCounts + judge once per scrape (two-sample). Flagger-style: per minute, canary success rate < ${FLAGGER_MIN_SUCCESS * 100}% or histogram_quantile(0.99) > ${FLAGGER_P99_MS} ms is a failed check, the ${FLAGGER_THRESHOLD}th rolls back (the same from ${SCRAPE_SECONDS.join(' or ')} s scrapes). Kayenta-style: per minute, Mann-Whitney U (5%, two-sided) of the per-scrape error rates and bucket-midpoint mean latencies, canary against stable; either worse rolls back`,
  );
  console.log(`${'case'.padEnd(28)}${'rule'.padEnd(40)}${'canary requests to detect'.padStart(25)}${'seconds to detect'.padStart(20)}${'detected'.padStart(10)}`);
  const heads = (w: number) => ['mean', 'median', 'p90'].map((x) => x.padStart(w)).join('');
  console.log(`${''.padEnd(68)}${heads(8).padStart(25)}${heads(7).padStart(20)}`);
  CASES.forEach((c, ci) =>
    rules.forEach(([name, of], k) => {
      const o = of(ci);
      const hits = o.filter((x) => x.detected);
      console.log(`${(k === 0 ? c.name : '').padEnd(28)}${name.padEnd(40)}${three(dist(hits.map((x) => x.canaryRequests)), 8).padStart(25)}${three(dist(hits.map((x) => x.seconds)), 7).padStart(20)}${pctOf(hits.length, o.length).padStart(10)}`);
    }),
  );
  console.log(`${HEALTHY.name.padEnd(28)}${'rule'.padEnd(40)}${'false rollbacks'.padStart(18)}   \`pass\` after: canary requests, seconds (mean/median/p90); share of runs`);
  rules.forEach(([name, of], k) => {
    const o = of(hi);
    const falses = o.filter((x) => x.detected).length;
    const passes = o.filter((x) => x.passAt !== null);
    const d = (xs: number[]) => {
      const x = dist(xs);
      return x ? `${x.mean.toFixed(0)}/${x.median}/${x.p90}` : 'n/a';
    };
    const pass = k === 0 || k <= SCRAPE_SECONDS.length ? `${d(passes.map((x) => x.passAt!))} req, ${d(passes.map((x) => x.passSeconds!))} s; ${pctOf(passes.length, o.length)} within ${HORIZON_SECONDS / 60} min` : '—';
    console.log(`${''.padEnd(28)}${name.padEnd(40)}${`${((falses / o.length) * 100).toFixed(2)}% (${falses}/${o.length})`.padStart(18)}   ${pass}`);
  });
  const scrapedPassFirst = CASES.map((c, ci) => `${c.name} ${SCRAPE_SECONDS.map((_, k) => pctOf(scrapedOf(ci).filter((run) => run[k].passAt !== null).length, scrapedOf(ci).length)).join(' / ')}`);
  console.log(`shipgate on scrapes said \`pass\` at some look (${SCRAPE_SECONDS.map((x) => `${x} s`).join(' / ')}): ${scrapedPassFirst.join('; ')}`);
  console.log(`took ${((performance.now() - started) / 1000).toFixed(0)} s on ${workers} worker threads`);
}

// The canary judge: sequential tests that compare canary with stable on the same traffic and
// stay valid however often they are looked at (each fail test is a nonnegative martingale
// under "no regression", so by Ville's inequality it crosses 1/alpha with probability at most
// alpha, whenever and however often it is checked). Pure: records in, verdict out; the state
// is plain JSON of fixed size, so the controller persists it after every look.
//
// Practical significance: a difference a user's policy tolerates is never a failure, however
// much traffic shows it. The tolerances: errors up to T = max(5 x known baseline, the 0.5%
// guard); latency up to 10% (`minLatencyRatio`) or 2 ms (`latencyFloorMs`) slower, whichever
// is more, everywhere in the distribution.
//
// Fail tests (alpha split evenly across them; default 1% per canary in total):
// - errors: each error event is the canary's with probability s (the canary's share of the
//   requests in the batch it came from) if nothing changed; the alternative is a relative
//   risk rho, an equal-weight mixture over {1.5, 2, 3, 5, 8, 13, 21, 34}. With a known
//   baseline error rate r0 (a long stable history), each canary request is instead an error
//   with probability r0 under the null and rho*r0 under the alternative. Fails only when the
//   canary also has more errors than T would give (binomial, p < 4% at the look): a further
//   condition can only lower the chance of a false rollback, so the test stays valid.
// - latency: a normal-mixture sequential probability ratio test (mSPRT) on the difference of
//   mean log latency beyond the tolerance, prior N(0, tau^2) with tau = 0.3, after a short
//   burn-in; fails only when the canary is slower.
// - slow95 (the seeds' "p95 within 10%") / slow99: the same two-sample test on events "canary
//   slower than stable's p95 / p99 plus the tolerance" against "stable slower than its p95 /
//   p99", the marks frozen from stable's first requests. A canary at most the tolerance slower
//   has at most stable's share of events, so the test stays valid for it.
// - the p99 guard (the seeds' "p99 below 2x stable"): the same on "canary slower than 2x
//   stable's p99 plus the tolerance" against "stable slower than 2x its p99"; it catches a
//   far tail at once.
//   Slow requests come in bursts on a busy machine, so for the latency-event tests each batch
//   adds at most `batchCap` to an ln LR (clipping keeps the test valid) and the evidence is
//   divided by the counts' dispersion.
// - the error-rate guard: evidence for twice the 0.5% guard against the guard.
// Pass tests (each must pass for a `pass` verdict): enough evidence that the regression, if
// any, is one the policy tolerates:
// - errors, either of: the rate shown below T by a sequential test of T/5 against T (beta 5%;
//   quick for a canary as clean as stable); or, after 11/T canary requests (2,200 at 0.5%),
//   the rate is below T. A canary at 0.3% against a 0.5% tolerance never passes the first
//   (0.3% is nearer 0.5% than 0.1%), and showing 0.3% < 0.5% at 95% takes some 6,000 requests;
//   the horizon is where a canary erring at 2T is still under T with probability 0.34%.
// - slow95 / slow99: the canary's share of events shown below 2x 5% (5x 1%);
// - latency: the always-valid upper confidence bound of the mean log-latency difference is
//   below the tolerance, ln(1.10) (a mixture of width `passTau`, tuned to that size).
//   A step before the last one (`{ proof: false }`: 10% of 10 → 50 → 100) needs only that no
//   test has seen a problem: guards past their 400 requests and the rate under T. The proof
//   that errors are below T is asked at the last step before promotion, from every canary
//   request of the rollout: at 10 canary requests/s, showing 0.1% below 0.5% takes 750 to
//   1,950 requests (75 to 195 s) at the first step; at 50% the same proof takes seconds.
//   The fail tests are the same at every step.
// Guards (backstops from the seeds) pass once there are 400 canary requests, so a few early
// requests cannot roll back a healthy canary. Alert levels: error rate 1% (warning) / 5%
// (critical), p95 latency 1 s / 3 s; a critical level fails at once (after 50 canary requests).

/** Per-version counters over one interval, as a scraping source reads them (see
 * drivers/driver.ts: VersionCounts; `le` in ms, counts not cumulative, last bound Infinity). */
export interface CountsBatch {
  at: number;
  canary: { requests: number; errors: number; latency: { le: number[]; counts: number[] } | null };
  stable: { requests: number; errors: number; latency: { le: number[]; counts: number[] } | null };
}

export interface CanaryRequest {
  at: number;
  version: 'stable' | 'canary';
  status: number;
  latencyMs: number;
  error: boolean;
}

export interface CanaryReason {
  metric: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
  sentence: string;
  statistic?: number | null;
  threshold?: number | null;
  samples?: number | null;
}

export interface CanaryJudgement {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reasons: CanaryReason[];
  canaryRequests: number;
  stableRequests: number;
}

export interface JudgeOptions {
  /** Total chance of rolling back a canary that is no worse than stable. */
  alpha: number;
  /** Chance, per pass test, of passing a canary with the smallest regression worth catching. */
  beta: number;
  /** Errors also pass when the canary's rate is under the tolerance T once it has served this
   * many errors' worth of requests at T (11/T: 2,200 at 0.5%); a canary erring at 2T is under T
   * there with probability 0.34%. */
  errorHorizon: number;
  /** Errors fail only when the canary has more errors than the tolerance T would give at this
   * significance (exact binomial, at the look); the relative test keeps the whole valid. As
   * strict as catching 0.1% → 2.1% within a few hundred requests allows. */
  errorAboveTolerance: number;
  relativeRisks: number[];
  /** Known stable error rate (from a long history); null: compare with stable's live traffic. */
  baselineErrorRate: number | null;
  minErrorRatio: number; // errors x5 the known baseline worth catching (tolerance: at least the guard)
  minLatencyRatio: number; // the latency tolerance: up to 10% slower is never a failure
  /** Latency differences smaller than this many ms never fail a canary, however certain:
   * on a 1 ms endpoint, 0.4 ms slower is a real 40% but not a regression worth a rollback. */
  latencyFloorMs: number;
  /** After promotion there is no stable traffic in the same window to compare with, only the
   * stable figures of the rollout, so the load may have changed since: the post-deploy latency
   * check needs p95 over 2x stable's and this much more. */
  postDeployMarginMs: number;
  /** The most evidence (ln LR, per relative risk) one batch can add to the latency-event tests:
   * a burst of slow requests seen in one look cannot roll a canary back alone. Clipping each
   * batch's likelihood ratio from above keeps the test valid (its expectation stays ≤ 1). */
  batchCap: number;
  tau: number; // width of the normal mixture on log latency
  /** Width of the mixture behind the latency pass bound: the size of the differences it has to
   * tell from the tolerance, so a canary a few percent slower is shown inside it in time. */
  passTau: number;
  burnInCanary: number;
  burnInStable: number;
  /** Stable requests used to fix the p95/p99 thresholds. */
  quantileSample: number;
  /** The seeds' p95 guard (within 10% of stable) is the latency tolerance at p95: `slow95`. */
  guards: { errorRate: number; p99Ratio: number; minCanary: number };
  alerts: { errorWarn: number; errorCritical: number; latencyWarnMs: number; latencyCriticalMs: number; minCanary: number };
}

export const DEFAULT_JUDGE: JudgeOptions = {
  alpha: 0.01,
  beta: 0.05,
  errorHorizon: 11,
  errorAboveTolerance: 0.04,
  relativeRisks: [1.5, 2, 3, 5, 8, 13, 21, 34],
  baselineErrorRate: null,
  minErrorRatio: 5,
  minLatencyRatio: 1.1,
  latencyFloorMs: 2,
  postDeployMarginMs: 50,
  batchCap: 3,
  tau: 0.3,
  passTau: 0.05,
  burnInCanary: 10,
  burnInStable: 30,
  quantileSample: 200,
  guards: { errorRate: 0.005, p99Ratio: 2, minCanary: 400 },
  alerts: { errorWarn: 0.01, errorCritical: 0.05, latencyWarnMs: 1000, latencyCriticalMs: 3000, minCanary: 50 },
};

/** A two-sample count test: per relative risk, the log likelihood ratio so far, and per version
 * the batch sums its dispersion is estimated from. */
interface CountTest {
  canaryEvents: number;
  stableEvents: number;
  logLR: number[];
  /** Per version: [batches, requests, events, sum of events² / requests]. */
  spread?: { canary: [number, number, number, number]; stable: [number, number, number, number] };
}

/** Fixed-size latency summary: sums of log latency, and a sorted sample for quantiles. */
interface Moments {
  n: number;
  sum: number;
  sumSq: number;
}

export interface JudgeState {
  v: 1;
  canary: { n: number; errors: number; latency: Moments; slow95: number; slow99: number; nAfterThresholds: number };
  stable: { n: number; errors: number; latency: Moments; sample: number[]; slow95: number; slow99: number; nAfterThresholds: number };
  errors: CountTest;
  /** Known-baseline variant of the error test (one-sample), when a baseline rate is set. */
  errorsKnown: number[];
  /** Stable's p95 and p99 marks; with `le` when they came from histograms (then every mark is
   * one of these bucket bounds, and events are counted above bounds only). */
  thresholds: { p95: number; p99: number; le?: number[] } | null;
  /** Stable's latency histogram, summed until it holds `quantileSample` requests (counts sources). */
  stableBuckets?: { le: number[]; counts: number[] } | null;
  slow95: CountTest;
  slow99: CountTest;
  /** The seeds' p99 guard as a two-sample test on "above 2x stable's p99" events, so a change
   * in load that slows both versions cannot trip it. */
  guard99: CountTest;
  /** Canary latencies in log-spaced bins (10% wide from 1 ms), for the alert levels. */
  canaryHist: number[];
}

const BIN_RATIO = Math.log(1.1);
const BINS = 120;

function binOf(ms: number): number {
  return Math.max(0, Math.min(BINS - 1, Math.floor(Math.log(Math.max(ms, 1)) / BIN_RATIO)));
}

/** The upper edge of the bin holding quantile q: at most 10% above the true value. */
function histQuantile(hist: number[], q: number): number {
  const total = hist.reduce((a, x) => a + x, 0);
  if (total === 0) return 0;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen > q * total) return Math.exp((i + 1) * BIN_RATIO);
  }
  return Math.exp(BINS * BIN_RATIO);
}

export function createCanaryJudge(options: Partial<JudgeOptions> = {}) {
  const o: JudgeOptions = { ...DEFAULT_JUDGE, ...options, guards: { ...DEFAULT_JUDGE.guards, ...options.guards }, alerts: { ...DEFAULT_JUDGE.alerts, ...options.alerts } };
  // errors, latency, slow95 (the p95 guard), slow99, and the error-rate and p99 guards
  const failTests = 6;
  const alphaEach = o.alpha / failTests;
  const failAt = Math.log(1 / alphaEach);
  const passAt = Math.log(1 / o.beta);
  /** Where stable's latency is `ms`, the canary may take this much without failing a test. */
  const tolerated = (ms: number) => Math.max(ms * o.minLatencyRatio, ms + o.latencyFloorMs);
  const toleranceText = (ms: number) => (ms * o.minLatencyRatio >= ms + o.latencyFloorMs ? `${Math.round((o.minLatencyRatio - 1) * 100)}%` : `${o.latencyFloorMs} ms`);
  /** Stable's marks for the latency-event tests; the canary's are these tolerated. */
  const marks = (t: { p95: number; p99: number; le?: number[] }) => {
    const g99 = Math.max(t.p99 * o.guards.p99Ratio, t.p99 + o.latencyFloorMs);
    return { p95: t.p95, p99: t.p99, g99: t.le ? snap(t.le, g99) : g99 };
  };
  /** Where the canary's events start for a stable mark: the mark tolerated, raised to the next
   * bucket bound when the marks come from histograms (a count above a bound is exact; anything
   * between bounds would be interpolation). */
  const canaryMark = (t: { le?: number[] }, mark: number) => (t.le ? snap(t.le, tolerated(mark)) : tolerated(mark));

  const start = (): JudgeState => ({
    v: 1,
    canary: { n: 0, errors: 0, latency: { n: 0, sum: 0, sumSq: 0 }, slow95: 0, slow99: 0, nAfterThresholds: 0 },
    stable: { n: 0, errors: 0, latency: { n: 0, sum: 0, sumSq: 0 }, sample: [], slow95: 0, slow99: 0, nAfterThresholds: 0 },
    errors: newCount(o.relativeRisks.length),
    errorsKnown: o.relativeRisks.map(() => 0),
    thresholds: null,
    slow95: newCount(o.relativeRisks.length),
    slow99: newCount(o.relativeRisks.length),
    guard99: newCount(o.relativeRisks.length),
    canaryHist: Array.from({ length: BINS }, () => 0),
  });

  /**
   * Counts one batch's requests and errors per version into the error tests, and returns the
   * batch's null share: the canary's share of its requests when both versions served, else the
   * weight the caller says it had.
   */
  function addRequests(s: JudgeState, nc: number, ns: number, ec: number, es: number, canaryShare: number): number {
    s.canary.n += nc;
    s.stable.n += ns;
    s.canary.errors += ec;
    s.stable.errors += es;
    const share = nc > 0 && ns > 0 ? nc / (nc + ns) : Math.min(Math.max(canaryShare, 0), 1);
    addEvents(s.errors, o.relativeRisks, share, ec, es);
    addKnownBaseline(s, ec, nc);
    return share;
  }

  /** The one-sample error test against a known baseline rate, when the options give one. */
  function addKnownBaseline(s: JudgeState, errors: number, n: number): void {
    if (o.baselineErrorRate === null || n === 0) return;
    const r0 = o.baselineErrorRate;
    o.relativeRisks.forEach((rho, i) => {
      const q = Math.min(rho * r0, 0.999999);
      s.errorsKnown[i] += errors * Math.log(q / r0) + (n - errors) * Math.log((1 - q) / (1 - r0));
    });
  }

  /** Adds one batch of requests seen while the canary had `canaryShare` (0..1) of the traffic. */
  function observe(prev: unknown, records: CanaryRequest[], canaryShare: number, opts: { inPlace?: boolean } = {}): JudgeState {
    // inPlace: the caller gives up `prev` (the simulator, which looks a million times).
    const s = opts.inPlace ? (prev as JudgeState) : structuredClone(prev as JudgeState);
    if (records.length === 0) return s;
    let nc = 0;
    let ns = 0;
    let ec = 0;
    let es = 0;
    let s95c = 0;
    let s95s = 0;
    let s99c = 0;
    let s99s = 0;
    let g99c = 0;
    let g99s = 0;
    const t = s.thresholds;
    const m = t ? marks(t) : { p95: 0, p99: 0, g99: 0 };
    const c95 = tolerated(m.p95);
    const c99 = tolerated(m.p99);
    const cg99 = tolerated(m.g99);
    if (t?.le) throw new Error('the judge reads histogram counters from this source: give it counts batches, not requests');
    for (const r of records) {
      const lat = Math.max(r.latencyMs, 0.01);
      const ll = Math.log(lat);
      if (r.version === 'canary') {
        nc++;
        if (r.error) ec++;
        addMoment(s.canary.latency, ll);
        s.canaryHist[binOf(lat)]++;
        if (t) {
          s.canary.nAfterThresholds++;
          if (lat > c95) s95c++;
          if (lat > c99) s99c++;
          if (lat > cg99) g99c++;
        }
      } else {
        ns++;
        if (r.error) es++;
        addMoment(s.stable.latency, ll);
        if (s.stable.sample.length < o.quantileSample) s.stable.sample.push(lat);
        if (t) {
          s.stable.nAfterThresholds++;
          if (lat > m.p95) s95s++;
          if (lat > m.p99) s99s++;
          if (lat > m.g99) g99s++;
        }
      }
    }
    s.canary.slow95 += s95c;
    s.canary.slow99 += s99c;
    s.stable.slow95 += s95s;
    s.stable.slow99 += s99s;
    const share = addRequests(s, nc, ns, ec, es, canaryShare);
    addEvents(s.slow95, o.relativeRisks, share, s95c, s95s, o.batchCap);
    addEvents(s.slow99, o.relativeRisks, share, s99c, s99s, o.batchCap);
    addEvents(s.guard99, o.relativeRisks, share, g99c, g99s, o.batchCap);
    if (t) {
      // Batch by batch, for the dispersion of the latency events (see dispersion()).
      for (const [test, c, st] of [
        [s.slow95, s95c, s95s],
        [s.slow99, s99c, s99s],
        [s.guard99, g99c, g99s],
      ] as const) {
        addSpread(test, 'canary', nc, c);
        addSpread(test, 'stable', ns, st);
      }
    }
    if (!s.thresholds && s.stable.sample.length >= o.quantileSample) {
      const sorted = [...s.stable.sample].sort((a, b) => a - b);
      s.thresholds = { p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99) };
    }
    return s;
  }

  /**
   * Adds one interval of per-version counters (a scraping source: the difference of two
   * scrapes). The error tests take the counts as they are; the latency tests work from bucket
   * counts only: mean log latency from each bucket's log midpoint (with the bucket's own spread
   * added, so coarse buckets make the test more careful, not bolder), and the tail tests count
   * requests above bucket bounds (stable's p95 / p99 bucket bound, the canary's tolerated and
   * raised to the next bound). Nothing is interpolated between bounds.
   */
  function observeCounts(prev: unknown, batch: CountsBatch, canaryShare: number, opts: { inPlace?: boolean } = {}): JudgeState {
    const s = opts.inPlace ? (prev as JudgeState) : structuredClone(prev as JudgeState);
    const c = batch.canary;
    const b = batch.stable;
    const nc = Math.max(0, c.requests);
    const ns = Math.max(0, b.requests);
    if (nc + ns === 0) return s;
    const ec = Math.min(Math.max(0, c.errors), nc);
    const es = Math.min(Math.max(0, b.errors), ns);
    const share = addRequests(s, nc, ns, ec, es, canaryShare);
    if (c.latency) {
      addBuckets(s.canary.latency, c.latency);
      c.latency.counts.forEach((k, i) => {
        // Alert levels read the bucket's lower bound: a canary is never called slower than it is.
        if (k > 0) s.canaryHist[binOf(i === 0 ? 0 : c.latency!.le[i - 1])] += k;
      });
    }
    if (b.latency) {
      addBuckets(s.stable.latency, b.latency);
      if (!s.thresholds) {
        s.stableBuckets = sumBuckets(s.stableBuckets ?? null, b.latency);
        const total = s.stableBuckets.counts.reduce((x, y) => x + y, 0);
        if (total >= o.quantileSample) {
          const { le, counts } = s.stableBuckets;
          s.thresholds = { p95: bucketQuantile(le, counts, 0.95), p99: bucketQuantile(le, counts, 0.99), le: [...le] };
          s.stableBuckets = null;
          return s; // events are counted from the next interval on, as with requests
        }
      }
    }
    const t = s.thresholds;
    if (t?.le && c.latency && b.latency) {
      const m = marks(t);
      const above = (h: { le: number[]; counts: number[] }, mark: number) => h.counts.reduce((acc, k, i) => acc + ((i === 0 ? 0 : h.le[i - 1]) >= mark ? k : 0), 0);
      const ev = {
        s95: [above(c.latency, canaryMark(t, m.p95)), above(b.latency, m.p95)],
        s99: [above(c.latency, canaryMark(t, m.p99)), above(b.latency, m.p99)],
        g99: [above(c.latency, canaryMark(t, m.g99)), above(b.latency, m.g99)],
      };
      s.canary.nAfterThresholds += nc;
      s.stable.nAfterThresholds += ns;
      s.canary.slow95 += ev.s95[0];
      s.canary.slow99 += ev.s99[0];
      s.stable.slow95 += ev.s95[1];
      s.stable.slow99 += ev.s99[1];
      for (const [test, [ce, se]] of [
        [s.slow95, ev.s95],
        [s.slow99, ev.s99],
        [s.guard99, ev.g99],
      ] as const) {
        addEvents(test, o.relativeRisks, share, ce, se, o.batchCap);
        addSpread(test, 'canary', nc, ce);
        addSpread(test, 'stable', ns, se);
      }
    }
    return s;
  }

  /** `proof: false` at a step before the last: errors pass without being shown below T. */
  function judge(st: unknown, opts: { proof?: boolean } = {}): CanaryJudgement {
    const proof = opts.proof ?? true;
    const s = st as JudgeState;
    const reasons: CanaryReason[] = [];
    const nc = s.canary.n;
    const ns = s.stable.n;
    if (nc === 0) {
      reasons.push({ metric: 'traffic', verdict: 'inconclusive', sentence: 'no canary requests yet: nothing to judge', samples: 0 });
      return { verdict: 'inconclusive', reasons, canaryRequests: nc, stableRequests: ns };
    }

    // errors
    const errRate = s.canary.errors / nc;
    const errFail = o.baselineErrorRate !== null ? mixture(s.errorsKnown) : mixture(s.errors.logLR);
    const errThreshold = Math.max(o.minErrorRatio * (o.baselineErrorRate ?? 0), o.guards.errorRate);
    const errPass = onePassLLR(s.canary.errors, nc, errThreshold / o.minErrorRatio, errThreshold);
    // Showing a rate of 0.3% below 0.5% at 95% takes far more requests than a rollout step has,
    // so a canary under the tolerance also passes once it is unlikely to be at twice it.
    const horizon = Math.ceil(o.errorHorizon / errThreshold);
    const errUnder = nc >= horizon && errRate < errThreshold;
    // The chance of this many errors or more at the tolerance: a canary that errs more than
    // stable but no more than the policy allows is rolled back only on a count unlikely for it.
    const errAbove = errRate > errThreshold ? binomialTail(s.canary.errors, nc, errThreshold) : 1;
    const errVs = o.baselineErrorRate !== null ? `the known baseline ${pct(o.baselineErrorRate)}` : `stable's ${pct(ns ? s.stable.errors / ns : 0)} (${s.stable.errors}/${ns})`;
    const errText = `canary errors ${pct(errRate)} (${s.canary.errors}/${nc})`;
    reasons.push(
      errFail >= failAt && errAbove < o.errorAboveTolerance
        ? { metric: 'errors', verdict: 'fail', sentence: `${errText} are higher than ${errVs}: evidence ${fmt(errFail)} ≥ ${fmt(failAt)}; and above the ${pct(errThreshold)} tolerance (p ${errAbove < 0.0001 ? '< 0.01%' : `= ${pct(errAbove)}`} at ${pct(errThreshold)})`, statistic: errFail, threshold: failAt, samples: nc }
        : errPass >= passAt
          ? { metric: 'errors', verdict: 'pass', sentence: `${errText} shown below ${pct(errThreshold)}`, statistic: errPass, threshold: passAt, samples: nc }
          : !proof && nc >= o.guards.minCanary && errRate < errThreshold && errFail < failAt
            ? { metric: 'errors', verdict: 'pass', sentence: `${errText} under the ${pct(errThreshold)} tolerance, no sign of more errors than ${errVs}; shown below ${pct(errThreshold)} before promotion`, statistic: errRate, threshold: errThreshold, samples: nc }
            : errUnder
            ? { metric: 'errors', verdict: 'pass', sentence: `${errText} stay under the ${pct(errThreshold)} tolerance (${(errThreshold * nc).toFixed(1)} errors in ${nc}) past ${horizon} canary requests, where a canary erring at ${pct(2 * errThreshold)} would have shown more in ${pct(binomialTail(Math.ceil(errThreshold * horizon), horizon, Math.min(2 * errThreshold, 1)))} of cases`, statistic: errRate, threshold: errThreshold, samples: nc }
            : errFail >= failAt
              ? { metric: 'errors', verdict: 'inconclusive', sentence: `${errText} are higher than ${errVs}, but not shown above the ${pct(errThreshold)} tolerance: not enough evidence either way yet`, statistic: errFail, threshold: failAt, samples: nc }
              : { metric: 'errors', verdict: 'inconclusive', sentence: `${errText} vs ${errVs}: not enough evidence either way yet`, statistic: errFail, threshold: failAt, samples: nc },
    );

    // mean log latency
    const lc = s.canary.latency;
    const ls = s.stable.latency;
    if (lc.n < o.burnInCanary || ls.n < o.burnInStable) {
      reasons.push({ metric: 'latency', verdict: 'inconclusive', sentence: `latency: burn-in (${lc.n}/${o.burnInCanary} canary, ${ls.n}/${o.burnInStable} stable samples)`, samples: lc.n });
    } else {
      const diff = mean(lc) - mean(ls);
      const pooled = (lc.sumSq - lc.n * mean(lc) ** 2 + ls.sumSq - ls.n * mean(ls) ** 2) / Math.max(lc.n + ls.n - 2, 1);
      const V = Math.max(pooled, 1e-6) * (1 / lc.n + 1 / ls.n);
      // Tested against the tolerance: the canary must be slower than stable by more than it.
      const margin = Math.log(tolerated(Math.exp(mean(ls))) / Math.exp(mean(ls)));
      const logLambda = diff > margin ? mSPRT(diff - margin, V, o.tau) : 0;
      const upper = diff + csHalfWidth(V, o.passTau, o.beta);
      const ratio = Math.exp(diff);
      const limit = margin;
      reasons.push(
        logLambda >= failAt
          ? { metric: 'latency', verdict: 'fail', sentence: `canary is slower: geometric mean latency ×${ratio.toFixed(2)} of stable, more than the ×${Math.exp(margin).toFixed(2)} tolerated: evidence ${fmt(logLambda)} ≥ ${fmt(failAt)}`, statistic: logLambda, threshold: failAt, samples: lc.n }
          : upper < limit
            ? { metric: 'latency', verdict: 'pass', sentence: `canary latency ×${ratio.toFixed(2)} of stable, at most ×${Math.exp(upper).toFixed(3)} (< ×${Math.exp(limit).toFixed(2)})`, statistic: upper, threshold: limit, samples: lc.n }
            : { metric: 'latency', verdict: 'inconclusive', sentence: `canary latency ×${ratio.toFixed(2)} of stable (could be up to ×${Math.exp(upper).toFixed(2)}): not enough evidence yet`, statistic: logLambda, threshold: failAt, samples: lc.n },
      );
    }

    // tail counts
    const t = s.thresholds;
    for (const [metric, test, slow, q, shareNull] of [
      ['slow95', s.slow95, s.canary.slow95, 'p95', 0.05],
      ['slow99', s.slow99, s.canary.slow99, 'p99', 0.01],
    ] as const) {
      if (!t) {
        reasons.push({ metric, verdict: 'inconclusive', sentence: `${metric}: waiting for ${o.quantileSample} stable requests to fix stable's ${q} (${s.stable.sample.length} so far)`, samples: 0 });
        continue;
      }
      const n = s.canary.nAfterThresholds;
      const phi = dispersion(test);
      const stat = deflated(test, phi);
      // Measured against stable's share above the same threshold now (at least the nominal 5% /
      // 1%), so a change in load that slows both versions does not keep a healthy canary waiting.
      const stableShare = s.stable.nAfterThresholds ? (metric === 'slow95' ? s.stable.slow95 : s.stable.slow99) / s.stable.nAfterThresholds : 0;
      const base = Math.min(Math.max(shareNull, stableShare), 0.2);
      const bound = metric === 'slow95' ? 2 * base : o.minErrorRatio * base;
      const passStat = onePassLLR(slow, n, base, bound) / phi;
      const thresholdMs = metric === 'slow95' ? t.p95 : t.p99;
      const mark = t.le ? `${fmtMs(canaryMark(t, thresholdMs))} ms (the bucket bound at or above stable's ${q} bucket bound ${fmtMs(thresholdMs)} ms + ${toleranceText(thresholdMs)})` : `${tolerated(thresholdMs).toFixed(0)} ms (stable's ${q} ${thresholdMs.toFixed(0)} ms + ${toleranceText(thresholdMs)})`;
      const share = n ? slow / n : 0;
      const bursts = burstNote(phi) && ` (${burstNote(phi)})`;
      reasons.push(
        stat >= failAt
          ? { metric, verdict: 'fail', sentence: `canary ${q} is more than ${toleranceText(thresholdMs)} above stable's: ${pct(share)} of canary requests (${slow}/${n}) are slower than ${mark}, ${pct(stableShare)} of stable's slower than its ${q}: evidence ${fmt(stat)} ≥ ${fmt(failAt)}${bursts}`, statistic: stat, threshold: failAt, samples: n }
          : passStat >= passAt
            ? { metric, verdict: 'pass', sentence: `${pct(share)} of canary requests slower than ${mark}, shown below ${pct(bound)}`, statistic: passStat, threshold: passAt, samples: n }
            : { metric, verdict: 'inconclusive', sentence: `${pct(share)} of canary requests (${slow}/${n}) slower than ${mark}: not enough evidence yet${bursts}`, statistic: stat, threshold: failAt, samples: n },
      );
    }

    // guards and alert levels
    const cp95 = histQuantile(s.canaryHist, 0.95);
    if (nc >= o.alerts.minCanary && (errRate >= o.alerts.errorCritical || cp95 >= o.alerts.latencyCriticalMs)) {
      reasons.push({
        metric: 'alert',
        verdict: 'fail',
        sentence: errRate >= o.alerts.errorCritical ? `canary error rate ${pct(errRate)} is at the critical level (${pct(o.alerts.errorCritical)})` : `canary p95 ${cp95.toFixed(0)} ms is at the critical level (${o.alerts.latencyCriticalMs} ms)`,
        samples: nc,
      });
    } else if (t) {
      // Each guard is a sequential test too, so looking every second cannot trip it by chance:
      // error rate above the guard (evidence for twice the guard against the guard); canary p99
      // above 2x stable's, as a two-sample test on canary requests above that mark plus the
      // tolerance against stable's requests above the mark in the same batches. (The p95 guard
      // is `slow95`.)
      const n = s.canary.nAfterThresholds;
      const g99 = marks(t).g99;
      const phi99 = dispersion(s.guard99);
      const note = (phi: number) => burstNote(phi) && `; ${burstNote(phi)}`;
      const over99 = `${pct(n ? s.guard99.canaryEvents / n : 0)} of canary requests over ${fmtMs(canaryMark(t, g99))} ms (+ ${toleranceText(g99)}), ${pct(s.stable.nAfterThresholds ? s.guard99.stableEvents / s.stable.nAfterThresholds : 0)} of stable's over ${fmtMs(g99)} ms`;
      const guards = [
        { name: 'error rate', stat: onePassLLR(s.canary.errors, nc, Math.min(2 * o.guards.errorRate, 0.5), o.guards.errorRate), text: `error rate ${pct(errRate)} is above ${pct(o.guards.errorRate)}` },
        { name: 'p99', stat: deflated(s.guard99, phi99), text: `p99 is above ${o.guards.p99Ratio}× stable's ${t.p99.toFixed(0)} ms (${over99}${note(phi99)})` },
      ];
      const broken = guards.filter((g) => g.stat >= failAt);
      const warn = errRate >= o.alerts.errorWarn || cp95 >= o.alerts.latencyWarnMs ? ` (warning level: error ${pct(errRate)}, p95 ${cp95.toFixed(0)} ms)` : '';
      reasons.push(
        broken.length
          ? { metric: 'guards', verdict: 'fail', sentence: `guard broken: ${broken.map((g) => g.text).join('; ')}${warn}`, statistic: Math.max(...broken.map((g) => g.stat)), threshold: failAt, samples: nc }
          : { metric: 'guards', verdict: nc >= o.guards.minCanary ? 'pass' : 'inconclusive', sentence: `guards hold so far: error ${pct(errRate)}, p95 ${cp95.toFixed(0)} ms${warn}`, samples: nc },
      );
    }

    const verdict = reasons.some((r) => r.verdict === 'fail') ? 'fail' : reasons.every((r) => r.verdict === 'pass') ? 'pass' : 'inconclusive';
    return { verdict, reasons, canaryRequests: nc, stableRequests: ns };
  }

  /** After promotion: the new version alone, against the stable figures seen during the rollout. */
  function postDeploy(st: unknown, records: CanaryRequest[]): { ok: boolean; reasons: string[] } {
    const s = st as JudgeState;
    const reasons: string[] = [];
    if (records.length === 0) return { ok: true, reasons: ['no requests since promotion'] };
    const errors = records.filter((r) => r.error).length;
    const rate = errors / records.length;
    const base = Math.max(o.minErrorRatio * (o.baselineErrorRate ?? (s.stable.n ? s.stable.errors / s.stable.n : 0)), o.guards.errorRate);
    // Evidence the rate is twice the worth-catching level rather than at it.
    const evidence = onePassLLR(errors, records.length, Math.min(2 * base, 0.5), base);
    if (records.length >= 50 && evidence >= failAt) reasons.push(`error rate ${pct(rate)} (${errors}/${records.length}) since promotion is above ${pct(base)}`);
    const sorted = records.map((r) => r.latencyMs).sort((a, b) => a - b);
    const p95 = quantile(sorted, 0.95);
    const sp95 = s.thresholds?.p95 ?? null;
    if (records.length >= 100 && sp95 !== null && p95 > Math.max(sp95 * 2, sp95 + o.postDeployMarginMs)) {
      reasons.push(`p95 ${p95.toFixed(0)} ms since promotion is over 2× stable's ${sp95.toFixed(0)} ms and ${o.postDeployMarginMs} ms more`);
    }
    return { ok: reasons.length === 0, reasons };
  }

  /** postDeploy over a look's batches, whichever kind they are: every request where the source
   * has them; from counters and histogram bounds (p95 read as its bucket's lower bound, so the
   * new version is never called slower than it is) where it has those. */
  function postDeployBatches(st: unknown, batches: ({ kind: 'requests'; records: CanaryRequest[] } | ({ kind: 'counts' } & CountsBatch))[]): { ok: boolean; reasons: string[] } {
    const records = batches.flatMap((b) => (b.kind === 'requests' ? b.records : []));
    const counts = batches.flatMap((b) => (b.kind === 'counts' ? [b] : []));
    if (counts.length === 0) return postDeploy(st, records);
    const s = st as JudgeState;
    // After promotion every request is the new version's, whichever side the source labels it.
    let n = records.length;
    let errors = records.filter((r) => r.error).length;
    let hist: { le: number[]; counts: number[] } | null = null;
    for (const b of counts) {
      for (const v of [b.canary, b.stable]) {
        n += v.requests;
        errors += v.errors;
        if (v.latency) hist = sumBuckets(hist, v.latency);
      }
    }
    if (n === 0) return { ok: true, reasons: ['no requests since promotion'] };
    const reasons: string[] = [];
    const base = Math.max(o.minErrorRatio * (o.baselineErrorRate ?? (s.stable.n ? s.stable.errors / s.stable.n : 0)), o.guards.errorRate);
    const evidence = onePassLLR(errors, n, Math.min(2 * base, 0.5), base);
    if (n >= 50 && evidence >= failAt) reasons.push(`error rate ${pct(errors / n)} (${errors}/${n}) since promotion is above ${pct(base)}`);
    const sp95 = s.thresholds?.p95 ?? null;
    if (hist && n >= 100 && sp95 !== null) {
      const total = hist.counts.reduce((x, y) => x + y, 0);
      let seen = 0;
      let low = 0;
      for (let i = 0; i < hist.counts.length; i++) {
        seen += hist.counts[i];
        if (seen >= 0.95 * total) {
          low = i === 0 ? 0 : hist.le[i - 1];
          break;
        }
      }
      if (low > Math.max(sp95 * 2, sp95 + o.postDeployMarginMs)) reasons.push(`p95 above ${fmtMs(low)} ms since promotion is over 2× stable's ${fmtMs(sp95)} ms and ${o.postDeployMarginMs} ms more`);
    }
    return { ok: reasons.length === 0, reasons };
  }

  return { options: o, failAt, passAt, start, observe, observeCounts, judge, postDeploy, postDeployBatches };
}

// ---- statistics -----------------------------------------------------------------------------

function newCount(k: number): CountTest {
  return { canaryEvents: 0, stableEvents: 0, logLR: Array.from({ length: k }, () => 0) };
}

/** Events of one batch: each is the canary's with probability `share` under the null. */
function addEvents(t: CountTest, risks: number[], share: number, canary: number, stable: number, cap = Infinity): void {
  t.canaryEvents += canary;
  t.stableEvents += stable;
  if (canary + stable === 0 || share <= 0 || share >= 1) return; // a batch with one version says nothing
  risks.forEach((rho, i) => {
    const q = (rho * share) / (rho * share + 1 - share);
    t.logLR[i] += Math.min(cap, canary * Math.log(q / share) + stable * Math.log((1 - q) / (1 - share)));
  });
}

/** The mixture statistic of a latency-event test, weighed for bursts (phi: its dispersion). */
function deflated(t: CountTest, phi: number): number {
  return mixture(t.logLR.map((l) => l / phi));
}

function burstNote(phi: number): string {
  return phi >= 1.05 ? `slow requests come in bursts: evidence divided by ${phi.toFixed(2)}` : '';
}

function addSpread(t: CountTest, version: 'canary' | 'stable', n: number, events: number): void {
  if (n === 0) return;
  t.spread ??= { canary: [0, 0, 0, 0], stable: [0, 0, 0, 0] };
  const v = t.spread[version];
  v[0] += 1;
  v[1] += n;
  v[2] += events;
  v[3] += (events * events) / n;
}

/** Pseudo-batches at dispersion 1 that the estimate starts from. */
const DISPERSION_PRIOR = 10;

/**
 * How much more the event counts vary from batch to batch than independent requests would:
 * Pearson's χ² of each version's batch counts around its own rate, over its degrees of freedom,
 * pooled, shrunk towards 1 by DISPERSION_PRIOR pseudo-batches, never below 1. On a busy machine a
 * process that is descheduled or collecting garbage for a few milliseconds makes many of its
 * requests slow at once: the events come in bursts, and a count test that takes them as
 * independent would read one burst on the canary as strong evidence. Dividing the log
 * likelihood ratios by this factor (quasi-likelihood) weighs a burst as what it is.
 */
export function dispersion(t: CountTest): number {
  if (!t.spread) return 1;
  let chi2 = 0;
  let df = 0;
  for (const [k, n, x, x2n] of [t.spread.canary, t.spread.stable]) {
    if (k < 2 || x === 0 || x === n) continue;
    const p = x / n;
    chi2 += (x2n / p - x) / (1 - p); // Σ (x_i - n_i p)² / (n_i p (1 - p))
    df += k - 1;
  }
  return Math.max(1, (chi2 + DISPERSION_PRIOR) / (df + DISPERSION_PRIOR));
}

/** ln of the equal-weight mixture of likelihood ratios exp(l_i). */
export function mixture(logLRs: number[]): number {
  const m = Math.max(...logLRs);
  return m + Math.log(logLRs.reduce((a, l) => a + Math.exp(l - m), 0) / logLRs.length);
}

/** ln LR of rate = low against rate = high, for k events in n: evidence the rate is below high. */
export function onePassLLR(k: number, n: number, low: number, high: number): number {
  return k * Math.log(low / high) + (n - k) * Math.log((1 - low) / (1 - high));
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed upwards from k in logs (k above the mean). */
export function binomialTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n || p <= 0) return 0;
  if (p >= 1) return 1;
  let term = lnGamma(n + 1) - lnGamma(k + 1) - lnGamma(n - k + 1) + k * Math.log(p) + (n - k) * Math.log(1 - p);
  let sum = 0;
  for (let j = k; j <= n; j++) {
    const t = Math.exp(term);
    sum += t;
    if (t < sum * 1e-12 && j > n * p) break;
    term += Math.log((n - j) / (j + 1)) + Math.log(p / (1 - p));
  }
  return Math.min(1, sum);
}

/** ln Γ(x) for x ≥ 1 (Lanczos, g = 7: about 15 significant digits). */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  const z = x - 1;
  let a = c[0];
  for (let i = 1; i < 9; i++) a += c[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** ln of the normal-mixture SPRT statistic for an observed difference with variance V. */
export function mSPRT(diff: number, V: number, tau: number): number {
  const t2 = tau * tau;
  return 0.5 * Math.log(V / (V + t2)) + (t2 * diff * diff) / (2 * V * (V + t2));
}

/** Half-width of the always-valid confidence sequence that goes with mSPRT at level alpha. */
export function csHalfWidth(V: number, tau: number, alpha: number): number {
  const t2 = tau * tau;
  return Math.sqrt(((2 * V * (V + t2)) / t2) * Math.log(Math.sqrt((V + t2) / V) / alpha));
}

/** The smallest bucket bound at or above x (Infinity past the last finite one). */
function snap(le: number[], x: number): number {
  for (const b of le) if (b >= x - 1e-9) return b;
  return Infinity;
}

/** The bound of the bucket where the cumulative share reaches q: stable's mark for a histogram. */
function bucketQuantile(le: number[], counts: number[], q: number): number {
  const total = counts.reduce((x, y) => x + y, 0);
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i];
    if (seen >= q * total) return Number.isFinite(le[i]) ? le[i] : (le[i - 1] ?? 0);
  }
  return le[le.length - 2] ?? 0;
}

function sumBuckets(acc: { le: number[]; counts: number[] } | null, h: { le: number[]; counts: number[] }): { le: number[]; counts: number[] } {
  if (!acc || acc.le.length !== h.le.length || acc.le.some((b, i) => b !== h.le[i])) return { le: [...h.le], counts: [...h.counts] };
  return { le: acc.le, counts: acc.counts.map((k, i) => k + h.counts[i]) };
}

/**
 * Adds a histogram to log-latency moments: each bucket's requests at the log midpoint of its
 * bounds, plus the variance of a log-uniform spread over the bucket (width²/12), so wide
 * buckets widen the latency test's uncertainty. The first bucket reads as (bound/4, bound], the
 * last (+Inf) as (bound, 4× bound].
 */
function addBuckets(m: Moments, h: { le: number[]; counts: number[] }): void {
  for (let i = 0; i < h.counts.length; i++) {
    const k = h.counts[i];
    if (!(k > 0)) continue;
    const hi = Number.isFinite(h.le[i]) ? h.le[i] : (h.le[i - 1] ?? 1) * 4;
    const lo = i === 0 || !(h.le[i - 1] > 0) ? hi / 4 : h.le[i - 1];
    const a = Math.log(Math.max(lo, 0.01));
    const b = Math.log(Math.max(hi, 0.01));
    const mid = (a + b) / 2;
    const w = b - a;
    m.n += k;
    m.sum += k * mid;
    m.sumSq += k * (mid * mid + (w * w) / 12);
  }
}

function fmtMs(ms: number): string {
  return ms >= 100 || Number.isInteger(ms) ? ms.toFixed(0) : ms.toFixed(1);
}

function addMoment(m: Moments, x: number): void {
  m.n++;
  m.sum += x;
  m.sumSq += x * x;
}

function mean(m: Moments): number {
  return m.n ? m.sum / m.n : 0;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`;
}

function fmt(x: number): string {
  return x.toFixed(2);
}

/** One version's figures as the judge holds them: counts, error rate, latency quantiles (ms). */
export interface VersionFigures {
  requests: number;
  errors: number;
  errorRate: number | null;
  /** Latency quantiles in ms, null where the judge kept nothing to compute them from. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** exp(mean ln latency): the judge's own latency summary. */
  geoMeanMs: number | null;
}

export interface JudgeFigures {
  canary: VersionFigures;
  stable: VersionFigures;
}

/** Nearest-rank quantile of a sorted list. */
function sortedQuantile(sorted: number[], q: number): number | null {
  return sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]! : null;
}

/** The upper edge of the judge's 10%-wide log bin holding quantile q (canary latencies). */
function binUpperQuantile(hist: number[], q: number): number | null {
  const total = hist.reduce((a, x) => a + x, 0);
  if (!total) return null;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen > q * total) return Math.exp((i + 1) * Math.log(1.1));
  }
  return Math.exp(hist.length * Math.log(1.1));
}

/**
 * What the judge's state says of each version so far (cumulative over the rollout): requests,
 * errors, and latency quantiles — canary's from its 10%-wide bins (upper edges, at most 10% high),
 * stable's from its sample of first requests. Read defensively: the state is stored JSON.
 */
export function judgeFigures(state: unknown): JudgeFigures | null {
  const obj = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' ? (x as Record<string, unknown>) : {});
  const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const a = obj(state);
  if (!a.canary || !a.stable) return null;
  const side = (s: Record<string, unknown>, quantiles: (q: number) => number | null): VersionFigures => {
    const n = num(s.n) ?? 0;
    const errors = num(s.errors) ?? 0;
    const lat = obj(s.latency);
    const ln = num(lat.n) ?? 0;
    return { requests: n, errors, errorRate: n ? errors / n : null, p50: quantiles(0.5), p95: quantiles(0.95), p99: quantiles(0.99), geoMeanMs: ln ? Math.exp((num(lat.sum) ?? 0) / ln) : null };
  };
  const hist = Array.isArray(a.canaryHist) ? (a.canaryHist as unknown[]).map((x) => num(x) ?? 0) : [];
  const stable = obj(a.stable);
  const sample = Array.isArray(stable.sample) ? (stable.sample as unknown[]).flatMap((x) => (num(x) === null ? [] : [num(x)!])).sort((x, y) => x - y) : [];
  return { canary: side(obj(a.canary), (q) => binUpperQuantile(hist, q)), stable: side(stable, (q) => sortedQuantile(sample, q)) };
}

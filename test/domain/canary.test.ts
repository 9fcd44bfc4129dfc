// The canary judge: its statistics against values computed another way, its false-rollback
// rate under repeated looks, and the verdicts and reasons a user reads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gaussian, mulberry32 } from '../support/random.js';
import { binomialTail, createCanaryJudge, csHalfWidth, dispersion, mixture, mSPRT, onePassLLR, type CanaryRequest, type JudgeState } from '../../src/domain/canary.js';



/** n requests of one version: `errors` of them errors, latencies median*exp(sigma*Z). */
function requests(rand: () => number, version: 'stable' | 'canary', n: number, opts: { errorRate?: number; median?: number; sigma?: number; errors?: number } = {}): CanaryRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const error = opts.errors !== undefined ? i < opts.errors : rand() < (opts.errorRate ?? 0);
    return { at: i, version, status: error ? 500 : 200, latencyMs: (opts.median ?? 100) * Math.exp((opts.sigma ?? 0.5) * gaussian(rand)), error };
  });
}

/** ln C(n, k) by summing logs, to compute binomial likelihoods directly. */
function lnChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i);
  return s;
}

function lnBinom(k: number, n: number, p: number): number {
  return lnChoose(n, k) + k * Math.log(p) + (n - k) * Math.log(1 - p);
}

describe('canary judge: statistics against independent computations', () => {
  test('the error test is the binomial likelihood ratio of "each error is the canary\'s" at the relative risk', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(1);
    // One batch: 100 canary and 900 stable requests (share 0.1), 7 canary and 3 stable errors.
    const batch = [...requests(rand, 'canary', 100, { errors: 7 }), ...requests(rand, 'stable', 900, { errors: 3 })];
    const s = judge.observe(judge.start(), batch, 0.1) as JudgeState;
    const risks = judge.options.relativeRisks;
    risks.forEach((rho, i) => {
      const q = (rho * 0.1) / (rho * 0.1 + 0.9);
      // Of the 10 errors, 7 are the canary's: Binomial(10, q) against Binomial(10, 0.1).
      const direct = lnBinom(7, 10, q) - lnBinom(7, 10, 0.1);
      assert.ok(Math.abs(s.errors.logLR[i] - direct) < 1e-9, `rho ${rho}: ${s.errors.logLR[i]} vs ${direct}`);
    });
    const mixed = Math.log(risks.reduce((a, rho) => {
      const q = (rho * 0.1) / (rho * 0.1 + 0.9);
      return a + Math.exp(lnBinom(7, 10, q) - lnBinom(7, 10, 0.1));
    }, 0) / risks.length);
    assert.ok(Math.abs(mixture(s.errors.logLR) - mixed) < 1e-9);
  });

  test('mSPRT equals the likelihood ratio integrated over the normal prior (numerical quadrature)', () => {
    const tau = 0.3;
    for (const [diff, V] of [
      [0.2, 0.01],
      [0.05, 0.002],
      [-0.1, 0.02],
      [0.69, 0.0083],
    ]) {
      // ∫ N(diff; d, V) / N(diff; 0, V) · N(d; 0, tau²) dd, by the trapezoid rule on ±8 tau.
      const steps = 20000;
      const lo = -8 * tau;
      const h = (16 * tau) / steps;
      let integral = 0;
      for (let i = 0; i <= steps; i++) {
        const d = lo + i * h;
        const lr = Math.exp((diff * diff - (diff - d) * (diff - d)) / (2 * V));
        const prior = Math.exp(-(d * d) / (2 * tau * tau)) / Math.sqrt(2 * Math.PI * tau * tau);
        integral += (i === 0 || i === steps ? 0.5 : 1) * lr * prior * h;
      }
      assert.ok(Math.abs(mSPRT(diff, V, tau) - Math.log(integral)) < 1e-6, `diff ${diff}, V ${V}: ${mSPRT(diff, V, tau)} vs ${Math.log(integral)}`);
    }
  });

  test('the confidence sequence ends exactly where the mSPRT reaches 1/alpha', () => {
    for (const V of [0.0005, 0.003, 0.05]) {
      const h = csHalfWidth(V, 0.3, 0.05);
      assert.ok(Math.abs(mSPRT(h, V, 0.3) - Math.log(1 / 0.05)) < 1e-9);
    }
  });

  test('the pass test is Wald\'s SPRT log likelihood ratio, and takes about Wald\'s expected sample number', () => {
    // No errors in n requests: ln LR = n ln((1-low)/(1-high)); for low = 0.1%, high = 0.5%.
    assert.ok(Math.abs(onePassLLR(0, 1000, 0.001, 0.005) - 1000 * Math.log(0.999 / 0.995)) < 1e-12);
    // Wald: E[N] ≈ ln(1/beta) / KL(true ‖ high) at true rate = low. KL per request:
    const low = 0.001;
    const high = 0.005;
    const kl = low * Math.log(low / high) + (1 - low) * Math.log((1 - low) / (1 - high));
    const wald = Math.log(1 / 0.05) / kl;
    const rand = mulberry32(7);
    const ns: number[] = [];
    for (let run = 0; run < 400; run++) {
      let k = 0;
      let n = 0;
      while (onePassLLR(k, n, low, high) < Math.log(1 / 0.05) && n < 100_000) {
        n++;
        if (rand() < low) k++;
      }
      ns.push(n);
    }
    const mean = ns.reduce((a, x) => a + x, 0) / ns.length;
    // Wald's approximation ignores the overshoot, so the mean lies at or a little above it.
    assert.ok(mean > wald * 0.9 && mean < wald * 1.3, `mean ${mean.toFixed(0)} vs Wald ${wald.toFixed(0)}`);
  });

  test('the errors\' tolerance condition is the binomial tail P(X ≥ k), summed term by term', () => {
    for (const [k, n, p] of [
      [4, 200, 0.005],
      [7, 675, 0.005],
      [14, 2700, 0.005],
      [60, 5000, 0.005],
      [1, 10, 0.3],
    ]) {
      let direct = 0;
      for (let j = k; j <= n; j++) direct += Math.exp(lnBinom(j, n, p));
      assert.ok(Math.abs(binomialTail(k, n, p) - direct) < 1e-9 * Math.max(direct, 1e-3), `${k}/${n} at ${p}: ${binomialTail(k, n, p)} vs ${direct}`);
    }
    assert.equal(binomialTail(0, 100, 0.01), 1);
  });

  test('looking after every batch of 50 keeps the false rollback rate under alpha (no change, 300 canaries)', () => {
    const judge = createCanaryJudge({ alpha: 0.05 });
    const rand = mulberry32(11);
    let rolledBack = 0;
    for (let run = 0; run < 300; run++) {
      let s = judge.start() as JudgeState;
      for (let look = 0; look < 60; look++) {
        const share = look < 20 ? 0.1 : 0.5;
        const batch = Array.from({ length: 50 }, (_, i) => {
          const version = rand() < share ? 'canary' : 'stable';
          const error = rand() < 0.002; // below the 0.5% guard: only the comparisons are on trial
          return { at: i, version, status: error ? 500 : 200, latencyMs: 100 * Math.exp(0.5 * gaussian(rand)), error } as CanaryRequest;
        });
        s = judge.observe(s, batch, share, { inPlace: true });
        if (judge.judge(s).verdict === 'fail') {
          rolledBack++;
          break;
        }
      }
    }
    // 300 runs at alpha 5%: the rate must not exceed alpha (allowing 2 standard errors).
    assert.ok(rolledBack / 300 <= 0.05 + 2 * Math.sqrt((0.05 * 0.95) / 300), `${rolledBack} of 300 rolled back`);
  });
});

describe('canary judge: verdicts and reasons', () => {
  test('no data is inconclusive, never pass', () => {
    const judge = createCanaryJudge();
    const j = judge.judge(judge.start());
    assert.equal(j.verdict, 'inconclusive');
    assert.match(j.reasons[0].sentence, /no canary requests yet/);
    const onlyStable = judge.observe(judge.start(), requests(mulberry32(2), 'stable', 500), 0);
    assert.equal(judge.judge(onlyStable).verdict, 'inconclusive');
  });

  test('a step before the last passes errors with no sign against them; the last step asks for the proof, and a bad canary fails at either', () => {
    const judge = createCanaryJudge();
    // A clean canary (0.1% like stable) at 10%: 10 canary and 90 stable requests per look.
    const rand = mulberry32(11);
    let s = judge.start();
    let early: ReturnType<typeof judge.judge> | null = null;
    for (let i = 0; i < 200 && early?.reasons.find((r) => r.metric === 'errors')?.verdict !== 'pass'; i++) {
      s = judge.observe(s, [...requests(rand, 'canary', 10, { errors: i % 50 === 7 ? 1 : 0 }), ...requests(rand, 'stable', 90, { errorRate: 0.001 })], 0.1);
      early = judge.judge(s, { proof: false });
    }
    const errors = early!.reasons.find((r) => r.metric === 'errors')!;
    assert.equal(errors.verdict, 'pass');
    assert.equal(early!.canaryRequests, 400, 'passed at the guards\' 400 canary requests');
    assert.match(errors.sentence, /canary errors 0\.25% \(1\/400\) under the 0\.50% tolerance, no sign of more errors than stable's .*; shown below 0\.50% before promotion/);
    const last = judge.judge(s).reasons.find((r) => r.metric === 'errors')!;
    assert.equal(last.verdict, 'inconclusive', 'at the last step 1 error in 400 is not yet proof of < 0.5%');

    // Bad canaries (0.1% → 2.1%) are failed before an early step passes them, as at the last.
    let passedEarly = 0;
    for (let seed = 0; seed < 200; seed++) {
      const r = mulberry32(1000 + seed);
      let st = judge.start();
      for (let i = 0; i < 300; i++) {
        st = judge.observe(st, [...requests(r, 'canary', 10, { errorRate: 0.021 }), ...requests(r, 'stable', 90, { errorRate: 0.001 })], 0.1);
        const v = judge.judge(st, { proof: false });
        if (v.verdict === 'fail') break;
        if (v.reasons.find((x) => x.metric === 'errors')!.verdict === 'pass') {
          passedEarly++;
          break;
        }
      }
    }
    assert.ok(passedEarly <= 10, `${passedEarly} of 200 bad canaries passed an early step's error test (at most 5%)`);
  });

  test('an erroring canary fails on errors, naming the rates and the evidence', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(3);
    let s = judge.start();
    let verdict = judge.judge(s);
    for (let i = 0; i < 40 && verdict.verdict !== 'fail'; i++) {
      s = judge.observe(s, [...requests(rand, 'canary', 10, { errorRate: 0.1 }), ...requests(rand, 'stable', 90, { errorRate: 0.001 })], 0.1);
      verdict = judge.judge(s);
    }
    assert.equal(verdict.verdict, 'fail');
    const errors = verdict.reasons.find((r) => r.metric === 'errors')!;
    assert.equal(errors.verdict, 'fail');
    assert.match(errors.sentence, /canary errors \d+\.\d+% \(\d+\/\d+\) are higher than stable's .*evidence \d+\.\d+ ≥ 6\.40; and above the 0\.50% tolerance/);
    assert.equal(judge.failAt, Math.log(6 / 0.01), 'alpha 1% split over 6 tests');
    assert.ok(errors.statistic! >= errors.threshold!);
    assert.ok(verdict.canaryRequests < 200, `caught after ${verdict.canaryRequests} canary requests`);
  });

  test('a slow canary fails on latency; a tail-only regression fails on the share slower than stable\'s p99', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(4);
    let s = judge.observe(judge.start(), requests(rand, 'stable', 300), 0);
    s = judge.observe(s, [...requests(rand, 'canary', 40, { median: 200 }), ...requests(rand, 'stable', 360)], 0.1);
    const slow = judge.judge(s);
    assert.equal(slow.reasons.find((r) => r.metric === 'latency')!.verdict, 'fail');
    assert.match(slow.reasons.find((r) => r.metric === 'latency')!.sentence, /canary is slower: geometric mean latency ×1\.\d\d of stable/);

    let t = judge.observe(judge.start(), requests(rand, 'stable', 300), 0);
    for (let i = 0; i < 30; i++) {
      const canary = requests(rand, 'canary', 20).map((r) => (rand() < 0.05 ? { ...r, latencyMs: r.latencyMs + 2000 } : r));
      t = judge.observe(t, [...canary, ...requests(rand, 'stable', 180)], 0.1);
    }
    const tail = judge.judge(t);
    assert.equal(tail.verdict, 'fail');
    assert.ok(tail.reasons.some((r) => (r.metric === 'slow99' || r.metric === 'slow95') && r.verdict === 'fail'), JSON.stringify(tail.reasons));
  });

  test('a healthy canary passes once every metric has enough evidence, with the share stepping 10% → 50%', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(5);
    let s = judge.start();
    let j = judge.judge(s);
    let looks = 0;
    for (; looks < 400 && j.verdict !== 'pass'; looks++) {
      const share = looks < 40 ? 0.1 : 0.5;
      const nc = Math.round(100 * share);
      s = judge.observe(s, [...requests(rand, 'canary', nc, { errorRate: 0.001 }), ...requests(rand, 'stable', 100 - nc, { errorRate: 0.001 })], share);
      j = judge.judge(s);
      assert.notEqual(j.verdict, 'fail', JSON.stringify(j.reasons));
    }
    assert.equal(j.verdict, 'pass');
    assert.ok(j.reasons.every((r) => r.verdict === 'pass'));
    // Shown below the tolerance, or (a canary unlucky with its errors) under it past the horizon.
    assert.match(j.reasons.find((r) => r.metric === 'errors')!.sentence, /shown below 0\.50%|stay under the 0\.50% tolerance .* past 2200 canary requests/);
    assert.match(j.reasons.find((r) => r.metric === 'latency')!.sentence, /at most ×1\.0\d\d \(< ×1\.10\)/);
  });

  test('the null share follows the traffic: errors split like the requests add no evidence at any weight', () => {
    const judge = createCanaryJudge();
    let s = judge.start();
    // 10% then 50% of requests and of errors on the canary: exactly what "no change" predicts.
    s = judge.observe(s, [...requests(mulberry32(6), 'canary', 100, { errors: 1 }), ...requests(mulberry32(6), 'stable', 900, { errors: 9 })], 0.1);
    s = judge.observe(s, [...requests(mulberry32(6), 'canary', 500, { errors: 5 }), ...requests(mulberry32(6), 'stable', 500, { errors: 5 })], 0.5);
    const st = s as JudgeState;
    assert.ok(mixture(st.errors.logLR) < 0, `evidence ${mixture(st.errors.logLR)}`);
    // Judged as if the share were still 10%, the second batch's 5 of 10 errors would be strong
    // evidence against the canary: the share is what keeps the ramp from looking like a regression.
    const atTen = (x: number) => lnBinom(5, 10, x);
    assert.ok(Math.log(judge.options.relativeRisks.reduce((a, rho) => a + Math.exp(atTen((rho * 0.1) / (rho * 0.1 + 0.9)) - atTen(0.1)), 0) / 8) > 2);
  });

  test('the state is plain JSON that survives a restart', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(8);
    const s = judge.observe(judge.start(), [...requests(rand, 'canary', 50), ...requests(rand, 'stable', 450)], 0.1);
    const restored = JSON.parse(JSON.stringify(s));
    assert.deepEqual(judge.judge(restored), judge.judge(s));
    assert.ok(JSON.stringify(s).length < 20_000, 'bounded size');
  });
});

describe('canary judge: slow requests that come in bursts', () => {
  /**
   * One second at 200 requests/s, 25% on the canary, latency median 2 ms. A process that is
   * descheduled or collecting garbage for a moment makes a share of its requests in that second
   * slow at once: each version, independently and by the same law, stalls in 15% of the seconds,
   * and then 2–10% of its requests that second take +20 ms. No change between the versions.
   * `tailShare`: on top, this share of the canary's requests take +2 s (a real tail regression).
   */
  function burstySecond(rand: () => number, tailShare = 0): CanaryRequest[] {
    const stall = { canary: rand() < 0.15 ? 0.02 + 0.08 * rand() : 0, stable: rand() < 0.15 ? 0.02 + 0.08 * rand() : 0 };
    return Array.from({ length: 200 }, (_, i) => {
      const version = rand() < 0.25 ? ('canary' as const) : ('stable' as const);
      let latencyMs = 2 * Math.exp(0.5 * gaussian(rand));
      if (rand() < stall[version]) latencyMs += 20;
      if (version === 'canary' && rand() < tailShare) latencyMs += 2000;
      return { at: i, version, status: 200, latencyMs, error: false };
    });
  }
  const TESTS = ['slow95', 'slow99', 'guard99'] as const;

  test('the dispersion factor is Pearson\'s χ² over its degrees of freedom: 1 for even counts, large for one burst', () => {
    const judge = createCanaryJudge();
    const batch = (canarySlow: number, stableSlow: number): CanaryRequest[] => [
      ...Array.from({ length: 100 }, (_, i) => ({ at: i, version: 'canary' as const, status: 200, latencyMs: i < canarySlow ? 500 : 1, error: false })),
      ...Array.from({ length: 300 }, (_, i) => ({ at: i, version: 'stable' as const, status: 200, latencyMs: i < stableSlow ? 500 : 1 + (i % 3), error: false })),
    ];
    // Thresholds from stable's first 200 requests, then batches with the same counts each time:
    // no batch-to-batch spread, so the factor is its floor, 1.
    let s = judge.observe(judge.start(), batch(0, 0), 0.25);
    for (let i = 0; i < 30; i++) s = judge.observe(s, batch(5, 15), 0.25);
    assert.equal(dispersion((s as JudgeState).slow95), 1);
    // One batch with 40 of the canary's 100 slow among 29 batches of 5: Pearson's χ² by hand.
    let b = judge.observe(judge.start(), batch(0, 0), 0.25);
    for (let i = 0; i < 29; i++) b = judge.observe(b, batch(5, 15), 0.25);
    b = judge.observe(b, batch(40, 15), 0.25);
    const p = (29 * 5 + 40) / 3000;
    const chi2 = (29 * (5 - 100 * p) ** 2 + (40 - 100 * p) ** 2) / (100 * p * (1 - p));
    const expected = (chi2 + 10) / (29 + 29 + 10); // canary df 29, stable df 29 (χ² 0), 10 pseudo-batches at 1
    assert.ok(Math.abs(dispersion((b as JudgeState).slow95) - expected) < 1e-9, `${dispersion((b as JudgeState).slow95)} vs ${expected}`);
    assert.ok(expected > 2.5, `factor ${expected}`);
  });

  test('bursts on a healthy canary do not roll it back; read as independent they would (200 canaries, 60 s each)', () => {
    const judge = createCanaryJudge();
    let falseWeighed = 0;
    let falseIndependent = 0;
    const runs = 200;
    for (let run = 0; run < runs; run++) {
      const rand = mulberry32(5000 + run);
      let s = judge.start();
      let weighed = false;
      let independent = false;
      for (let sec = 0; sec < 60; sec++) {
        s = judge.observe(s, burstySecond(rand), 0.25, { inPlace: true });
        const st = s as JudgeState;
        for (const name of TESTS) {
          const logLR = st[name].logLR;
          if (mixture(logLR) >= judge.failAt) independent = true;
          if (mixture(logLR.map((l) => l / dispersion(st[name]))) >= judge.failAt) weighed = true;
        }
        if (judge.judge(s).verdict === 'fail') weighed = true;
      }
      if (weighed) falseWeighed++;
      if (independent) falseIndependent++;
    }
    // The judge's budget is 1% per canary; the bursts make "independent" far worse than that.
    assert.ok(falseWeighed <= 4, `${falseWeighed}/${runs} healthy canaries rolled back`);
    assert.ok(falseIndependent >= 20, `${falseIndependent}/${runs} read as independent`);
  });

  test('a real tail regression (5% of canary requests +2 s) is still caught among the bursts', () => {
    const judge = createCanaryJudge();
    const needed: number[] = [];
    for (let run = 0; run < 50; run++) {
      const rand = mulberry32(7000 + run);
      let s = judge.start();
      for (let sec = 0; sec < 60; sec++) {
        s = judge.observe(s, burstySecond(rand, 0.05), 0.25, { inPlace: true });
        const j = judge.judge(s);
        if (j.verdict === 'fail') {
          needed.push(j.canaryRequests);
          break;
        }
      }
    }
    needed.sort((a, b) => a - b);
    // Slower than among calm traffic (the bursts cost evidence too), but every run is caught.
    assert.equal(needed.length, 50, 'every run caught within 60 s');
    assert.ok(needed[25] <= 600, `median ${needed[25]} canary requests`);
  });
});

describe('canary judge: differences inside the tolerance', () => {
  /**
   * One second of the seed's traffic: 150 requests, `share` of them on the canary. Stable: 0.1%
   * errors, latency log-normal with median 43.1 ms and sigma 0.5 (p95 98 ms). The canary:
   * `errorRate`, every latency × `latencyFactor` (1.04: p95 102 ms).
   */
  function seedSecond(rand: () => number, share: number, canary: { errorRate: number; latencyFactor: number }): CanaryRequest[] {
    const nc = Math.round(150 * share);
    return [
      ...requests(rand, 'canary', nc, { errorRate: canary.errorRate, median: 43.1 * canary.latencyFactor }),
      ...requests(rand, 'stable', 150 - nc, { errorRate: 0.001, median: 43.1 }),
    ];
  }

  test('the seed\'s successful canary (errors 0.3% against 0.1%, p95 +4%) is promoted: 10% of 150 req/s, then 50%, each step within 3 minutes (400 rollouts)', () => {
    const runs = 400;
    const canary = { errorRate: 0.003, latencyFactor: 1.04 };
    for (const baselineErrorRate of [null, 0.001]) {
      const judge = createCanaryJudge({ baselineErrorRate });
      const ends = { promoted: 0, 'rolled back': 0, paused: 0 };
      const failures: string[] = [];
      for (let run = 0; run < runs; run++) {
        const rand = mulberry32(9000 + run);
        let s = judge.start();
        // As the controller runs a step: on `pass` once min_step (30 s) is over, paused past
        // max_step (3 min), rolled back on `fail`.
        const step = (share: number): keyof typeof ends | null => {
          for (let sec = 1; sec <= 180; sec++) {
            s = judge.observe(s, seedSecond(rand, share, canary), share, { inPlace: true });
            const j = judge.judge(s);
            if (j.verdict === 'fail') {
              if (failures.length < 3) failures.push(j.reasons.filter((r) => r.verdict === 'fail').map((r) => r.sentence).join('; '));
              return 'rolled back';
            }
            if (j.verdict === 'pass' && sec >= 30) return null;
          }
          return 'paused';
        };
        ends[step(0.1) ?? step(0.5) ?? 'promoted']++;
      }
      const label = `${baselineErrorRate === null ? 'two-sample' : 'known 0.1%'}: ${JSON.stringify(ends)} of ${runs}`;
      // At least 95%, allowing 2 standard errors for the sample of runs (about 96% over 3,000).
      assert.ok(ends.promoted / runs >= 0.95 - 2 * Math.sqrt((0.95 * 0.05) / runs), `${label}; ${failures.join(' | ')}`);
      // Rolled back by an early run of errors that looks like a real regression (4 in the first
      // 150 requests): about 1% of such canaries, the price of catching 0.1% → 2.1% that fast.
      assert.ok(ends['rolled back'] <= 0.03 * runs, `${label}; ${failures.join(' | ')}`);
    }
  });

  test('a canary at 1.0% errors (stable 0.1%) is not passed, over 3 minutes at 10% then 3 at 50% (1,000 runs)', () => {
    const runs = 1000;
    for (const baselineErrorRate of [null, 0.001]) {
      const judge = createCanaryJudge({ baselineErrorRate });
      let passed = 0;
      for (let run = 0; run < runs; run++) {
        const rand = mulberry32(11000 + run);
        let s = judge.start();
        for (let sec = 0; sec < 360; sec++) {
          const share = sec < 180 ? 0.1 : 0.5;
          s = judge.observe(s, seedSecond(rand, share, { errorRate: 0.01, latencyFactor: 1 }), share, { inPlace: true });
          const v = judge.judge(s).verdict;
          if (v === 'pass') passed++;
          if (v !== 'inconclusive') break;
        }
      }
      // At most 1%, allowing 2 standard errors for the sample of runs (about 0.65% over 4,000).
      assert.ok(passed / runs <= 0.01 + 2 * Math.sqrt((0.01 * 0.99) / runs), `${baselineErrorRate === null ? 'two-sample' : 'known 0.1%'}: ${passed}/${runs} passed`);
    }
  });

  test('latency 4% or 8% higher, or 1.5 ms more on a 1 ms endpoint, never fails a canary, even over 100,000 canary requests', () => {
    for (const [name, median, slower] of [
      ['+4%', 100, (ms: number) => ms * 1.04],
      ['+8%', 100, (ms: number) => ms * 1.08],
      ['+1.5 ms at 1 ms', 1, (ms: number) => ms + 1.5],
    ] as const) {
      const judge = createCanaryJudge();
      for (let run = 0; run < 5; run++) {
        const rand = mulberry32(13000 + run);
        let s = judge.start();
        let j = judge.judge(s);
        for (let look = 0; look < 200; look++) {
          const canary = requests(rand, 'canary', 500, { errorRate: 0.001, median }).map((r) => ({ ...r, latencyMs: slower(r.latencyMs) }));
          s = judge.observe(s, [...canary, ...requests(rand, 'stable', 500, { errorRate: 0.001, median })], 0.5, { inPlace: true });
          j = judge.judge(s);
          const failing = j.reasons.filter((r) => r.verdict === 'fail' && r.metric !== 'errors');
          assert.equal(failing.length, 0, `${name}, run ${run}, look ${look}: ${failing.map((r) => r.sentence).join('; ')}`);
        }
        for (const metric of ['latency', 'slow95', 'slow99']) {
          assert.equal(j.reasons.find((r) => r.metric === metric)!.verdict, 'pass', `${name}, run ${run}: ${JSON.stringify(j.reasons)}`);
        }
      }
    }
  });
});

// ---- the judge on aggregates: per-version counters and latency histograms ----------------------

/** Prometheus' default buckets (seconds), in ms, +Inf last: 10 bounds as the issue's scrapes. */
const PROM_LE = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Infinity];

/** One scrape interval's counters of a version, from its requests. */
function countsOf(records: CanaryRequest[], le = PROM_LE) {
  const counts = le.map(() => 0);
  for (const r of records) counts[le.findIndex((b) => r.latencyMs <= b)]++;
  return { requests: records.length, errors: records.filter((r) => r.error).length, latency: { le, counts } };
}

describe('canary judge: counters and histograms (a scraping source such as Prometheus)', () => {
  test('the error test on counters is exactly the one on the same requests, batch by batch', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(11);
    let fromRecords = judge.start();
    let fromCounts = judge.start();
    for (let i = 0; i < 20; i++) {
      const canary = requests(rand, 'canary', 20 + i, { errorRate: 0.03 });
      const stable = requests(rand, 'stable', 180, { errorRate: 0.002 });
      fromRecords = judge.observe(fromRecords, [...canary, ...stable], 0.1);
      fromCounts = judge.observeCounts(fromCounts, { at: i, canary: countsOf(canary), stable: countsOf(stable) }, 0.1);
    }
    const a = fromRecords as JudgeState;
    const b = fromCounts as JudgeState;
    assert.deepEqual([b.canary.n, b.canary.errors, b.stable.n, b.stable.errors], [a.canary.n, a.canary.errors, a.stable.n, a.stable.errors]);
    b.errors.logLR.forEach((l, i) => assert.ok(Math.abs(l - a.errors.logLR[i]) < 1e-9, `${l} vs ${a.errors.logLR[i]}`));
    assert.equal(judge.judge(fromCounts).reasons.find((r) => r.metric === 'errors')!.verdict, judge.judge(fromRecords).reasons.find((r) => r.metric === 'errors')!.verdict);
  });

  test('0.1% → 2.1% errors and latency ×1.5 are caught from 5 s scrapes; the reasons name the bucket bounds, nothing interpolated', () => {
    for (const [what, canaryOpts, metric] of [
      ['errors', { errorRate: 0.021 }, 'errors'],
      ['latency', { errorRate: 0.001, median: 60 }, 'latency'],
    ] as const) {
      const judge = createCanaryJudge();
      const rand = mulberry32(5);
      let s = judge.start();
      let verdict = judge.judge(s);
      let canaryRequests = 0;
      // 100 req/s at 10%: per 5 s scrape, 50 canary and 450 stable requests.
      for (let scrape = 0; scrape < 200 && verdict.verdict !== 'fail'; scrape++) {
        const canary = requests(rand, 'canary', 50, { median: 40, sigma: 0.4, ...canaryOpts });
        const stable = requests(rand, 'stable', 450, { median: 40, sigma: 0.4, errorRate: 0.001 });
        s = judge.observeCounts(s, { at: scrape * 5000, canary: countsOf(canary), stable: countsOf(stable) }, 0.1);
        canaryRequests += 50;
        verdict = judge.judge(s);
      }
      assert.equal(verdict.verdict, 'fail', `${what}: ${JSON.stringify(verdict.reasons)}`);
      assert.ok(verdict.reasons.some((r) => r.metric === metric && r.verdict === 'fail'), `${what} fails on ${metric}: ${JSON.stringify(verdict.reasons)}`);
      assert.ok(canaryRequests <= 3000, `${what} caught within 3,000 canary requests (${canaryRequests})`);
    }
    // A tail-count reason, when there is one, speaks of a bucket bound, which is one of the source's.
    const judge = createCanaryJudge();
    const rand = mulberry32(8);
    let s = judge.start();
    for (let i = 0; i < 20; i++) s = judge.observeCounts(s, { at: i, canary: countsOf(requests(rand, 'canary', 50, { median: 40, sigma: 0.4 })), stable: countsOf(requests(rand, 'stable', 450, { median: 40, sigma: 0.4 })) }, 0.1);
    const st = s as JudgeState;
    assert.ok(st.thresholds && PROM_LE.includes(st.thresholds.p95) && PROM_LE.includes(st.thresholds.p99), JSON.stringify(st.thresholds));
    assert.match(judge.judge(s).reasons.find((r) => r.metric === 'slow95')!.sentence, /bucket bound/);
  });

  test('a healthy canary read from histograms passes, and is not rolled back in 300 rollouts of 10% then 50% (looks every 5 s scrape)', () => {
    let fails = 0;
    let passes = 0;
    for (let run = 0; run < 300; run++) {
      const judge = createCanaryJudge();
      const rand = mulberry32(1000 + run);
      let s = judge.start();
      let verdict = judge.judge(s);
      for (const [weight, scrapes] of [
        [0.1, 36],
        [0.5, 36],
      ] as const) {
        for (let i = 0; i < scrapes && verdict.verdict !== 'fail'; i++) {
          const nc = Math.round(500 * weight);
          s = judge.observeCounts(s, { at: i, canary: countsOf(requests(rand, 'canary', nc, { median: 40, sigma: 0.5, errorRate: 0.001 })), stable: countsOf(requests(rand, 'stable', 500 - nc, { median: 40, sigma: 0.5, errorRate: 0.001 })) }, weight);
          verdict = judge.judge(s);
        }
      }
      if (verdict.verdict === 'fail') fails++;
      if (verdict.verdict === 'pass') passes++;
    }
    assert.ok(fails <= 3, `false rollbacks: ${fails} of 300 (at most 1%)`);
    assert.ok(passes >= 270, `passed by the end: ${passes} of 300`);
  });

  test('after promotion, counters alone judge the new version: errors over the tolerance fail, a clean one passes', () => {
    const judge = createCanaryJudge();
    const rand = mulberry32(3);
    let s = judge.start();
    for (let i = 0; i < 10; i++) s = judge.observeCounts(s, { at: i, canary: countsOf(requests(rand, 'canary', 100, { median: 40 })), stable: countsOf(requests(rand, 'stable', 400, { median: 40 })) }, 0.2);
    const none = { requests: 0, errors: 0, latency: null };
    const bad = judge.postDeployBatches(s, [{ kind: 'counts', at: 1, canary: countsOf(requests(rand, 'canary', 1000, { median: 40, errorRate: 0.05 })), stable: none }]);
    assert.equal(bad.ok, false);
    assert.match(bad.reasons.join(' '), /error rate .* since promotion/);
    const slow = judge.postDeployBatches(s, [{ kind: 'counts', at: 1, canary: countsOf(requests(rand, 'canary', 1000, { median: 400, sigma: 0.2 })), stable: none }]);
    assert.match(slow.reasons.join(' '), /p95 above \d+ ms since promotion/);
    assert.deepEqual(judge.postDeployBatches(s, [{ kind: 'counts', at: 1, canary: countsOf(requests(rand, 'canary', 1000, { median: 40 })), stable: none }]), { ok: true, reasons: [] });
  });
});

// The canary judge against the usual rules, on simulated traffic.
//
//   node --import tsx bench/canary-sim.ts [--runs 2000] [--healthy-runs 10000] [--seed 42]
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
// The runs are split over two worker threads; each (case, judge) cell has its own seed.
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

type Outcome = { detected: boolean; canaryRequests: number; passAt: number | null };

function shipgate(rand: () => number, c: Case, baseline: number | null, untilPass = false): Outcome {
  const judge = createCanaryJudge({ baselineErrorRate: baseline });
  let state = judge.start();
  let canary = 0;
  let passAt: number | null = null;
  for (const { share, batch } of traffic(rand, c)) {
    for (const r of batch) if (r.version === 'canary') canary++;
    state = judge.observe(state, batch, share, { inPlace: true });
    const v = judge.judge(state).verdict;
    if (v === 'fail') return { detected: true, canaryRequests: canary, passAt };
    if (v === 'pass' && passAt === null) passAt = canary;
    // Promotion: the ramp is at 100% and the analysis has passed.
    if (untilPass && passAt !== null && share >= 1) return { detected: false, canaryRequests: canary, passAt };
  }
  return { detected: false, canaryRequests: canary, passAt };
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
      if (failed >= 5) return { detected: true, canaryRequests: canary, passAt: null };
      errors = 0;
      inMinute = 0;
    }
  }
  return { detected: false, canaryRequests: canary, passAt: null };
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
          return { detected: true, canaryRequests: canary, passAt: null };
        }
      }
      window = [];
    }
  }
  return { detected: false, canaryRequests: canary, passAt: null };
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
  kind: 'table' | 'rollout';
  caseIndex: number;
  judgeIndex: number;
  runs: number;
  seed: number;
}

function runTask(t: Task): (Outcome | RolloutOutcome)[] {
  const rand = mulberry32(t.seed);
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
  const shares: Task[][] = Array.from({ length: workers }, () => []);
  tasks.forEach((t, i) => shares[i % workers].push(t));
  const results = (
    await Promise.all(
      shares.map(
        (share) =>
          new Promise<{ task: Task; outcomes: (Outcome | RolloutOutcome)[] }[]>((resolve, reject) => {
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
  console.log(`took ${((performance.now() - started) / 1000).toFixed(0)} s on ${workers} worker threads`);
}

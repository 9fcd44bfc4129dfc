// The rollout controller one step at a time, in milliseconds: the memory store, the memory
// driver (src/drivers/memory), requests scripted into a memory metrics source
// (src/metrics/memory), the real canary judge and a fixed clock. Each test checks what was
// written: the deployment's state and reason, the record, the driver's actions, the audit events.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CanaryRequest } from '../../../src/domain/canary.js';
import { DEFAULT_PLAN, type RolloutPlan, type RolloutRecord } from '../../../src/domain/rollout.js';
import { MemoryDriver } from '../../../src/drivers/memory/driver.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { canaryAnalysis } from '../../../src/features/rollouts/analysis.js';
import { RolloutController } from '../../../src/features/rollouts/controller.js';
import { createShipgate, inMemoryStore } from '../../../src/main.js';
import { ScriptedSource } from '../../../src/metrics/memory.js';
import { testConfig } from '../../support/config.js';
import { mulberry32 } from '../../support/random.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const PLAN: RolloutPlan = { ...DEFAULT_PLAN, steps: [10, 50, 100], minStepSeconds: 30, maxStepSeconds: 300, postDeployChecks: [0], smoke: [] };

/** shipgate on memory with production rolled out by the memory driver; 1.0.0 already runs there. */
async function world(plan: RolloutPlan = PLAN) {
  const clock = { now: new Date('2026-11-24T10:00:00Z') };
  const config = testConfig({ soakMinutes: 0, approvals: [], autoApprove: true, emergency: { approvals: [], mayBypass: [] } });
  config.environments.find((e) => e.name === 'production')!.rollout = { driver: { kind: 'memory', settings: null },
    metrics: null, plan, servicePlans: {} };
  const sg = createShipgate({ config, store: inMemoryStore(), now: () => clock.now });
  const driver = new MemoryDriver();
  const metrics = new ScriptedSource();
  const progress: string[] = [];
  let withMetrics = true;
  const controller = () =>
    new RolloutController({
      records: sg.rollouts,
      target: () => ({ driver, metrics: withMetrics ? metrics : null, plan }),
      analysis: canaryAnalysis(),
      smoke: async (_url, checks) => checks.map((c) => ({ name: c.name, ok: true, status: 200, durationMs: 1, reason: 'ok' })),
      now: () => clock.now,
      onProgress: (_d, m) => progress.push(m),
    });
  const release = async (version: string) => {
    await sg.releases.register(as('carol'), { service: 'web', version, digest: `sha256:${version.replaceAll('.', '').padStart(64, 'd')}`, commit: 'abc1234' });
    await sg.releases.verify(as('carol'), 'web', version, 'staging');
    const { view } = await sg.deployments.request(as('carol'), { service: 'web', version, environment: 'production' });
    return view.deployment.id;
  };
  // 1.0.0 is what runs: a first deployment, straight to 100%.
  withMetrics = false;
  const first = await controller().run(await release('1.0.0'), { pollMs: 0, deadlineMs: 5000 });
  assert.equal(first.state, 'succeeded');
  withMetrics = true;
  driver.target('web', 'production').actions.length = 0;
  progress.length = 0;
  const rand = mulberry32(7);
  /** One look's worth of traffic: `n` requests split by the canary's weight. */
  const traffic = (n: number, weight: number, canary: { errorRate?: number; latencyMs?: number } = {}) => {
    const batch: CanaryRequest[] = [];
    for (let i = 0; i < n; i++) {
      const isCanary = rand() < weight / 100;
      const error = rand() < (isCanary ? (canary.errorRate ?? 0) : 0);
      const base = isCanary ? (canary.latencyMs ?? 50) : 50;
      batch.push({ at: clock.now.getTime(), version: isCanary ? 'canary' : 'stable', status: error ? 500 : 200, latencyMs: base * (0.8 + 0.4 * rand()), error });
    }
    metrics.add(...batch);
  };
  const record = async (id: number) => (await sg.rollouts.get(id)).rollout!;
  const events = async (id: number) => (await sg.audit.events({ subject: `deployment:${id}`, limit: 1000 })).map((e) => e.action);
  return { sg, clock, driver, metrics, controller, release, traffic, record, events, progress, tick: (s: number) => (clock.now = new Date(clock.now.getTime() + s * 1000)) };
}

describe('the rollout controller on the memory store and driver', () => {
  test('a healthy canary goes 10 → 50 → 100%, verified after promotion, succeeded; every step written and audited', async () => {
    const w = await world();
    const id = await w.release('2.0.0');
    const c = w.controller();
    // Step by step: each look sees 10 s of traffic at the weight the record says.
    for (let look = 0; look < 200; look++) {
      const r = await c.step(id);
      if (r.done) break;
      const rec = await w.record(id);
      if (rec?.phase === 'analyse' || rec?.phase === 'post_deploy') w.traffic(1000, rec.weight);
      w.tick(10);
    }
    const d = await w.sg.rollouts.get(id);
    assert.equal(d.state, 'succeeded');
    const rec = d.rollout!;
    assert.deepEqual(rec.steps.map((s) => [s.weight, s.verdict]), [
      [10, 'pass'],
      [50, 'pass'],
      [100, null],
    ]);
    // The 10% step needs no sign against the canary (the guards' 400 requests); the 50% step,
    // the last before promotion, the proof that errors are under the tolerance (≥ 747 clean).
    assert.ok(rec.steps[0].canaryRequests >= 400 && rec.steps[0].canaryRequests < 747, `the 10% step ended on the guards' evidence (${rec.steps[0].canaryRequests} canary requests)`);
    assert.ok(rec.steps[1].canaryRequests >= 747, `the 50% step ended on the proof (${rec.steps[1].canaryRequests} canary requests)`);
    assert.match(rec.steps[0].reasons.find((r) => r.metric === 'errors')!.sentence, /shown below 0\.50% before promotion/);
    assert.match(rec.steps[1].reasons.find((r) => r.metric === 'errors')!.sentence, /shown below 0\.50%$/);
    assert.deepEqual(w.driver.target('web', 'production').actions, ['deploy 2.0.0', 'weight 10', 'weight 50', 'weight 100', 'promote 2.0.0', 'finalize']);
    assert.deepEqual(w.driver.target('web', 'production'), { stable: '2.0.0', canary: null, weight: 0, actions: w.driver.target('web', 'production').actions });
    const actions = await w.events(id);
    assert.deepEqual(
      actions.filter((a) => a.startsWith('rollout.')),
      ['rollout.deployed', 'rollout.weight', 'rollout.step_passed', 'rollout.weight', 'rollout.step_passed', 'rollout.weight', 'rollout.promoted', 'rollout.verified', 'rollout.succeeded'],
    );
    const states = (await w.sg.audit.events({ subject: `deployment:${id}`, limit: 1000 })).filter((e) => e.action === 'deployment.state').map((e) => (e.data as { to: string }).to);
    assert.deepEqual(states.slice(-4), ['approved', 'rolling_out', 'verifying', 'succeeded']);
    assert.equal((await w.sg.audit.verify()).ok, true);
  });

  test('a canary with 5% errors is rolled back at its first step, with the judge\'s reason; stable takes the traffic back', async () => {
    const w = await world();
    const id = await w.release('3.0.0');
    const c = w.controller();
    for (let look = 0; look < 100; look++) {
      const r = await c.step(id);
      if (r.done) break;
      const rec = await w.record(id);
      if (rec?.phase === 'analyse') w.traffic(1000, rec.weight, { errorRate: 0.05 });
      w.tick(5);
    }
    const d = await w.sg.rollouts.get(id);
    assert.equal(d.state, 'rolled_back');
    assert.match(d.reason!, /^analysis failed at 10%: .*errors/);
    const rb = d.rollout!.rollback!;
    assert.deepEqual([rb.trigger, rb.ok], ['analysis', true]);
    assert.deepEqual(w.driver.target('web', 'production'), { stable: '1.0.0', canary: null, weight: 0, actions: ['deploy 3.0.0', 'weight 10', 'rollback'] });
    assert.ok(w.progress.some((m) => /^ROLLING BACK \(analysis\)/.test(m)));
  });

  test('a target that refuses a weight change is a failed rollout: rolled back, the driver\'s words in the reason', async () => {
    const w = await world();
    w.driver.fail.set('weight', 'ingress: weight update refused (quota exceeded)');
    const id = await w.release('4.0.0');
    const d = await w.controller().run(id, { pollMs: 0, deadlineMs: 5000 });
    assert.equal(d.state, 'rolled_back');
    assert.equal(d.reason, 'weight failed: weight: ingress: weight update refused (quota exceeded)');
  });

  test('a rollback the target refuses ends rollback_failed, loudly', async () => {
    const w = await world();
    w.driver.fail.set('weight', 'refused');
    w.driver.fail.set('rollback', 'kubectl: connection to the server was refused');
    const id = await w.release('5.0.0');
    const d = await w.controller().run(id, { pollMs: 0, deadlineMs: 5000 });
    assert.equal(d.state, 'rollback_failed');
    assert.equal(d.reason, 'weight failed: weight: refused; rollback failed: traffic could not be moved back: rollback: kubectl: connection to the server was refused');
    assert.ok(w.progress.some((m) => m.startsWith('ROLLBACK FAILED')));
    const cell = (await w.sg.status.status()).find((c) => c.environment === 'production')!;
    assert.equal(cell.rollbackFailed?.id, id);
  });

  test('a canary that stops running mid-analysis is rolled back as a crash', async () => {
    const w = await world();
    const id = await w.release('6.0.0');
    const c = w.controller();
    for (let i = 0; i < 10 && (await w.record(id))?.phase !== 'analyse'; i++) await c.step(id);
    w.driver.target('web', 'production').canary = null; // the process died
    await c.step(id);
    const d = await w.sg.rollouts.get(id);
    assert.equal(d.state, 'rolled_back');
    assert.equal(d.reason, 'the canary (6.0.0) is not running any more');
  });

  test('a person\'s rollback mid-step is taken at the next step, naming them; a resume of a running rollout is refused', async () => {
    const w = await world();
    const id = await w.release('7.0.0');
    const c = w.controller();
    for (let i = 0; i < 10 && (await w.record(id))?.phase !== 'analyse'; i++) await c.step(id);
    await assert.rejects(w.sg.rollouts.request(as('carol'), id, 'resume'), /is not paused \(phase analyse\)/);
    await w.sg.rollouts.request(as('carol'), id, 'abort', 'dashboards look odd');
    await c.step(id);
    const d = await w.sg.rollouts.get(id);
    assert.equal(d.state, 'rolled_back');
    assert.equal(d.reason, 'rollback requested by carol: dashboards look odd');
    assert.ok((await w.events(id)).includes('rollout.abort_requested'));
  });

  test('inconclusive past max_step pauses; a resume goes on to the next step', async () => {
    const w = await world();
    const id = await w.release('8.0.0');
    const c = w.controller();
    for (let i = 0; i < 10 && (await w.record(id))?.phase !== 'analyse'; i++) await c.step(id);
    w.traffic(20, 10); // far too little evidence for a verdict
    w.tick(301);
    await c.step(id);
    assert.equal((await w.record(id)).phase, 'paused');
    assert.deepEqual(await c.step(id), { acted: false, done: false, message: 'paused at 10%: waiting for shipgate resume or abort' });
    await w.sg.rollouts.request(as('carol'), id, 'resume');
    await c.step(id);
    const rec = await w.record(id);
    assert.deepEqual([rec.phase, rec.step, rec.request], ['weight', 1, null]);
  });

  test('a new controller (the old one killed) carries on from the record: the evidence and step start times are kept', async () => {
    const w = await world();
    const id = await w.release('9.0.0');
    const first = w.controller();
    for (let i = 0; i < 10 && (await w.record(id))?.phase !== 'analyse'; i++) await first.step(id);
    w.traffic(600, 10);
    w.tick(10);
    await first.step(id);
    const before = await w.record(id);
    assert.ok(before.steps[0].canaryRequests > 0);
    // A fresh controller, as after SIGKILL: nothing but the store and the target.
    const second = w.controller();
    w.traffic(600, 10);
    w.tick(30);
    await second.step(id);
    const after = await w.record(id);
    assert.equal(after.steps[0].startedAt, before.steps[0].startedAt, 'the step keeps its start time');
    assert.ok(after.steps[0].canaryRequests > before.steps[0].canaryRequests, `the new look added to the old evidence (${before.steps[0].canaryRequests} → ${after.steps[0].canaryRequests})`);
    assert.equal((await w.sg.rollouts.get(id)).state, 'rolling_out');
  });

  test('a metrics source that stops answering makes the step inconclusive, never a pass: healthy evidence before it does not promote, and past max_step the plan\'s on_inconclusive applies', async () => {
    const w = await world();
    const id = await w.release('10.0.0');
    const c = w.controller();
    for (let i = 0; i < 10 && (await w.record(id))?.phase !== 'analyse'; i++) await c.step(id);
    w.metrics.failing = 'connect ECONNREFUSED 127.0.0.1:9090';
    for (let look = 0; look < 20; look++) {
      w.traffic(1000, 10);
      w.tick(10);
      await c.step(id);
    }
    let rec = await w.record(id);
    assert.deepEqual([rec.phase, rec.weight], ['analyse', 10], 'still at 10% after 200 s without a reading');
    assert.equal(rec.steps[0].verdict, 'inconclusive');
    assert.match(rec.steps[0].reasons[0].sentence, /^no reading from the memory metrics source: connect ECONNREFUSED 127\.0\.0\.1:9090; inconclusive until it answers/);
    // It answers again: the requests served meanwhile are read, and the step goes on to pass.
    w.metrics.failing = null;
    await c.step(id);
    rec = await w.record(id);
    assert.equal(rec.steps[0].verdict, 'pass', JSON.stringify(rec.steps[0].reasons));
    assert.ok(rec.steps[0].canaryRequests >= 1500, `the requests served while it was down count (${rec.steps[0].canaryRequests})`);
    // Down again for longer than max_step at the next step: paused (the plan's on_inconclusive).
    for (let i = 0; i < 5 && (await w.record(id)).phase !== 'analyse'; i++) await c.step(id);
    w.metrics.failing = 'HTTP 503 from http://127.0.0.1:9090/api/v1/query_range';
    w.tick(301);
    await c.step(id);
    rec = await w.record(id);
    assert.deepEqual([rec.phase, rec.weight], ['paused', 50]);
  });

  test('counters from a scraping source (every 5 s, 10 latency buckets) drive the same rollout: a healthy canary is promoted, an erroring one rolled back', async () => {
    const LE = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, Infinity];
    const rand = mulberry32(21);
    const version = (n: number, errorRate: number) => {
      const counts = LE.map(() => 0);
      let errors = 0;
      for (let i = 0; i < n; i++) {
        counts[LE.findIndex((b) => 50 * (0.5 + rand()) <= b)]++;
        if (rand() < errorRate) errors++;
      }
      return { requests: n, errors, latency: { le: LE, counts } };
    };
    for (const [canaryErrors, expected] of [
      [0, 'succeeded'],
      [0.05, 'rolled_back'],
    ] as const) {
      const w = await world();
      const id = await w.release(canaryErrors ? '12.0.0' : '11.0.0');
      const c = w.controller();
      for (let look = 0; look < 300; look++) {
        const r = await c.step(id);
        if (r.done) break;
        const rec = await w.record(id);
        if (rec?.phase === 'analyse' || rec?.phase === 'post_deploy') {
          // 100 req/s: one scrape's counters per 5 s.
          const nc = Math.round((500 * rec.weight) / 100);
          w.metrics.addBatch({ kind: 'counts', at: w.clock.now.getTime(), canary: version(nc, canaryErrors), stable: version(500 - nc, 0.001) });
        }
        w.tick(5);
      }
      const d = await w.sg.rollouts.get(id);
      assert.equal(d.state, expected, `${d.reason} ${JSON.stringify(d.rollout?.steps.map((x) => x.reasons.filter((r) => r.verdict !== 'pass')))}`);
      if (expected === 'rolled_back') assert.match(d.reason!, /^analysis failed at 10%: canary errors/);
      else assert.deepEqual(d.rollout!.steps.map((x) => x.verdict), ['pass', 'pass', null]);
    }
  });
});

// The reconciler's decisions, as tables: a record and what was seen give one action
// (nextAction); a record, an action and what it found give the next record, its event and its
// message (advance); a record stands for one deployment state (stateOf, reasonOf). Pure: no
// store, no driver, a fixed clock.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ActionOutcome,
  advance,
  DEFAULT_PLAN,
  firstRecord,
  nextAction,
  reasonOf,
  type RolloutAction,
  type RolloutRecord,
  stateOf,
} from '../../src/domain/rollout.js';

const NOW = new Date('2026-11-24T10:00:00.000Z');
const later = (s: number) => new Date(NOW.getTime() + s * 1000);
const plan = { ...DEFAULT_PLAN, minStepSeconds: 30, maxStepSeconds: 600, postDeployChecks: [0, 300], smoke: [{ name: 'health', path: '/health' }] };

function rec(over: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    ...firstRecord(plan, false, { judge: 'state' }, NOW),
    ...over,
  };
}

function atStep(step: number, phase: RolloutRecord['phase'], over: Partial<RolloutRecord> = {}): RolloutRecord {
  const weight = plan.steps[step];
  return rec({
    phase,
    step,
    weight,
    steps: Array.from({ length: step + 1 }, (_, i) => ({ weight: plan.steps[i], startedAt: NOW.toISOString(), smoke: null, verdict: null, reasons: [], canaryRequests: 0, stableRequests: 0, endedAt: null })),
    ...over,
  });
}

const seen = { version: '2.0.0', canaryRunning: true };

describe('nextAction: what the controller does next', () => {
  const cases: [string, RolloutRecord, { canaryRunning: boolean | null }, RolloutAction['kind'], Date?][] = [
    ['a new rollout deploys the canary', rec(), seen, 'deploy'],
    ['then sets the first weight', rec({ phase: 'weight' }), seen, 'set_weight'],
    ['runs the smoke tests', atStep(0, 'smoke'), seen, 'smoke'],
    ['analyses', atStep(0, 'analyse'), seen, 'analyse'],
    ['waits when paused', atStep(1, 'paused'), seen, 'wait'],
    ['resumes when a person asked', atStep(1, 'paused', { request: 'resume' }), seen, 'resume'],
    ['promotes', atStep(2, 'promote'), seen, 'promote'],
    ['runs a due post-deploy check', atStep(2, 'post_deploy', { postDeploy: [{ dueAt: NOW.toISOString(), ranAt: null, ok: null, reasons: [] }] }), seen, 'post_deploy'],
    ['waits for a check not due yet', atStep(2, 'post_deploy', { postDeploy: [{ dueAt: later(300).toISOString(), ranAt: null, ok: null, reasons: [] }] }), seen, 'wait'],
    ['is verified when every check ran', atStep(2, 'post_deploy', { postDeploy: [{ dueAt: NOW.toISOString(), ranAt: NOW.toISOString(), ok: true, reasons: [] }] }), seen, 'verified'],
    ['finalizes', atStep(2, 'finalize'), seen, 'finalize'],
    ['rolls back a rollback in progress', atStep(0, 'rollback'), seen, 'rollback'],
    ['is done when done', atStep(2, 'done'), seen, 'done'],
    ['rolls back when a person asked, whatever the phase', atStep(0, 'analyse', { request: 'abort', requestedBy: 'alice', requestReason: 'odd graphs' }), seen, 'start_rollback'],
    ['rolls back a canary that stopped while live', atStep(0, 'analyse'), { canaryRunning: false }, 'start_rollback'],
    ['trusts the record when the driver cannot tell', atStep(0, 'analyse'), { canaryRunning: null }, 'analyse'],
    ['does not call a canary not yet deployed crashed', rec(), { canaryRunning: false }, 'deploy'],
  ];
  for (const [what, r, s, kind, now] of cases) {
    test(what, () => assert.equal(nextAction(r, { version: '2.0.0', ...s }, now ?? NOW).kind, kind));
  }

  test('the reasons of the rollbacks it decides name who and why', () => {
    assert.deepEqual(nextAction(atStep(0, 'smoke', { request: 'abort', requestedBy: 'alice', requestReason: 'odd graphs' }), seen, NOW), {
      kind: 'start_rollback',
      trigger: 'manual',
      reason: 'rollback requested by alice: odd graphs',
    });
    assert.deepEqual(nextAction(atStep(1, 'paused'), { version: '2.0.0', canaryRunning: false }, NOW), {
      kind: 'start_rollback',
      trigger: 'crash',
      reason: 'the canary (2.0.0) is not running any more',
    });
    assert.deepEqual(nextAction(atStep(0, 'weight'), seen, NOW), { kind: 'set_weight', weight: 10 });
  });
});

describe('advance: the next record, its event and its message', () => {
  const step = (r: RolloutRecord, action: RolloutAction, outcome: ActionOutcome, now = NOW) => advance(r, action, outcome, now, '2.0.0');
  const pass = { verdict: 'pass' as const, reasons: [{ metric: 'errors', verdict: 'pass' as const, sentence: 'fine' }], canaryRequests: 900, stableRequests: 8100 };

  test('deploy, then a weight with its step opened and the metrics cursor kept', () => {
    const deployed = step(rec(), { kind: 'deploy' }, { kind: 'deploy' });
    assert.equal(deployed.record.phase, 'weight');
    assert.deepEqual(deployed.event, { action: 'rollout.deployed', data: { version: '2.0.0' } });
    const weighted = step(deployed.record, { kind: 'set_weight', weight: 10 }, { kind: 'set_weight', cursor: '42' });
    assert.equal(weighted.message, 'step 1/3: 10% of traffic on 2.0.0');
    assert.deepEqual([weighted.record.phase, weighted.record.weight, weighted.record.cursor, weighted.record.steps[0].startedAt], ['smoke', 10, '42', NOW.toISOString()]);
    const noSmoke = step({ ...deployed.record, plan: { ...plan, smoke: [] } }, { kind: 'set_weight', weight: 10 }, { kind: 'set_weight', cursor: null });
    assert.equal(noSmoke.record.phase, 'analyse');
  });

  test('smoke tests: passing goes on to the analysis, failing decides a rollback with the reasons', () => {
    const ok = step(atStep(0, 'smoke'), { kind: 'smoke' }, { kind: 'smoke', results: [{ name: 'health', ok: true, status: 200, durationMs: 3, reason: 'ok' }], canaryKnown: true });
    assert.equal(ok.record.phase, 'analyse');
    assert.equal(ok.event?.action, 'rollout.smoke');
    const bad = step(atStep(0, 'smoke'), { kind: 'smoke' }, { kind: 'smoke', results: [{ name: 'health', ok: false, status: 503, durationMs: 3, reason: 'health: GET /health answered 503' }], canaryKnown: true });
    assert.equal(bad.record.phase, 'rollback');
    assert.deepEqual([bad.record.rollback?.trigger, bad.record.rollback?.reason], ['smoke', 'smoke test failed: health: GET /health answered 503']);
    assert.equal(bad.message, 'ROLLING BACK (smoke): smoke test failed: health: GET /health answered 503');
    assert.deepEqual(bad.event, { action: 'rollout.rollback_decided', data: { trigger: 'smoke', reason: 'smoke test failed: health: GET /health answered 503', weight: 10, step: 1 } });
    const nowhere = step(atStep(0, 'smoke'), { kind: 'smoke' }, { kind: 'smoke', results: [], canaryKnown: false });
    assert.match(nowhere.record.rollback!.reason, /the driver does not know where the canary is/);
  });

  test('analysis: a pass before the minimum step time waits; after it, the next step; at the last step, promotion', () => {
    const analyse = (r: RolloutRecord, now: Date, judged = pass) => step(r, { kind: 'analyse' }, { kind: 'analyse', analysis: { looked: true }, cursor: '7', judged }, now);
    const early = analyse(atStep(0, 'analyse'), later(10));
    assert.deepEqual([early.acted, early.record.phase, early.record.cursor], [false, 'analyse', '7']);
    assert.deepEqual(early.record.analysis, { looked: true }, 'the evidence is kept while waiting');
    const passed = analyse(atStep(0, 'analyse'), later(31));
    assert.deepEqual([passed.record.phase, passed.record.step, passed.message], ['weight', 1, 'analysis passed at 10% after 900 canary requests']);
    assert.equal(passed.record.steps[0].endedAt, later(31).toISOString());
    const last = analyse(atStep(1, 'analyse'), later(31));
    assert.equal(last.record.phase, 'weight');
    assert.equal(analyse(atStep(2, 'analyse'), later(31)).record.phase, 'promote');
  });

  test('analysis: a failed verdict rolls back at once; inconclusive past max_step pauses or rolls back as the plan says', () => {
    const fail = { verdict: 'fail' as const, reasons: [{ metric: 'errors', verdict: 'fail' as const, sentence: 'canary errors 4.5%' }], canaryRequests: 88, stableRequests: 900 };
    const failed = step(atStep(0, 'analyse'), { kind: 'analyse' }, { kind: 'analyse', analysis: {}, cursor: null, judged: fail }, later(5));
    assert.deepEqual([failed.record.phase, failed.record.rollback?.reason], ['rollback', 'analysis failed at 10%: canary errors 4.5%']);
    const open = { verdict: 'inconclusive' as const, reasons: [{ metric: 'latency', verdict: 'inconclusive' as const, sentence: 'not enough evidence' }], canaryRequests: 5, stableRequests: 50 };
    const paused = step(atStep(1, 'analyse'), { kind: 'analyse' }, { kind: 'analyse', analysis: {}, cursor: null, judged: open }, later(600));
    assert.deepEqual([paused.record.phase, paused.message, paused.event?.action], ['paused', 'paused at 50%: analysis inconclusive after 600 s', 'rollout.paused']);
    const strict = atStep(1, 'analyse', { plan: { ...plan, onInconclusive: 'rollback' } });
    const timedOut = step(strict, { kind: 'analyse' }, { kind: 'analyse', analysis: {}, cursor: null, judged: open }, later(600));
    assert.deepEqual([timedOut.record.rollback?.trigger, timedOut.record.rollback?.reason], ['timeout', 'analysis still inconclusive after 600 s at 50%: not enough evidence']);
    const noMetrics = step(atStep(0, 'analyse'), { kind: 'analyse' }, { kind: 'analyse', analysis: {}, cursor: null, judged: null }, later(31));
    assert.equal(noMetrics.record.phase, 'weight', 'without metrics a step passes on its smoke tests and minimum time');
    assert.match(noMetrics.record.steps[0].reasons[0].sentence, /no metrics source/);
  });

  test('resume, promotion with its post-deploy schedule, checks, verification, the end', () => {
    const resumed = step(atStep(1, 'paused', { request: 'resume' }), { kind: 'resume' }, { kind: 'none' });
    assert.deepEqual([resumed.record.phase, resumed.record.step, resumed.record.request, resumed.message], ['weight', 2, null, 'resumed by a person']);
    const promoted = step(atStep(2, 'promote'), { kind: 'promote' }, { kind: 'promote', cursor: '99' });
    assert.equal(promoted.record.phase, 'post_deploy');
    assert.deepEqual(promoted.record.postDeploy.map((c) => c.dueAt), [NOW.toISOString(), later(300).toISOString()]);
    const checked = step(promoted.record, { kind: 'post_deploy', check: 0 }, { kind: 'post_deploy', results: [], reasons: [], cursor: '120' });
    assert.deepEqual([checked.record.postDeploy[0].ok, checked.message], [true, 'post-deploy check 1/2 passed']);
    const bad = step(promoted.record, { kind: 'post_deploy', check: 0 }, { kind: 'post_deploy', results: [], reasons: ['p95 91 ms since promotion is over 2× stable'], cursor: null });
    assert.deepEqual([bad.record.rollback?.trigger, bad.record.rollback?.reason], ['post_deploy', 'post-deploy check 1 failed: p95 91 ms since promotion is over 2× stable']);
    const verified = step(atStep(2, 'post_deploy'), { kind: 'verified' }, { kind: 'none' });
    assert.equal(verified.record.phase, 'finalize');
    const done = step(atStep(2, 'finalize'), { kind: 'finalize' }, { kind: 'finalize' }, later(95.5));
    assert.deepEqual([done.record.phase, done.message, done.event], ['done', 'succeeded in 95.5 s', { action: 'rollout.succeeded', data: { durationMs: 95_500 } }]);
  });

  test('rollback: timed from the decision; a failure to move traffic or to verify is a failed rollback', () => {
    const decided = step(atStep(1, 'analyse'), { kind: 'start_rollback', trigger: 'manual', reason: 'rollback requested by alice' }, { kind: 'none' }).record;
    const back = step(decided, { kind: 'rollback' }, { kind: 'rollback', restoredAt: later(0.008), verifiedAt: later(0.013), problems: [], failure: null });
    assert.deepEqual([back.record.rollback?.msToTraffic, back.record.rollback?.msToVerified, back.record.rollback?.ok, back.record.weight], [8, 13, true, 0]);
    assert.equal(back.message, 'rolled back: traffic on stable in 8 ms, verified in 13 ms');
    assert.equal(back.event?.action, 'rollout.rolled_back');
    const stuck = step(decided, { kind: 'rollback' }, { kind: 'rollback', restoredAt: null, verifiedAt: null, problems: [], failure: 'kubectl: connection refused' });
    assert.deepEqual([stuck.record.rollback?.ok, stuck.message], [false, 'ROLLBACK FAILED: traffic could not be moved back: kubectl: connection refused']);
    const unverified = step(decided, { kind: 'rollback' }, { kind: 'rollback', restoredAt: later(0.01), verifiedAt: later(0.02), problems: ['health: GET /health answered 503'], failure: null });
    assert.equal(unverified.message, 'ROLLBACK FAILED verification: health: GET /health answered 503');
  });
});

describe('stateOf and reasonOf: the deployment state a record stands for', () => {
  const decided = advance(atStep(1, 'analyse'), { kind: 'start_rollback', trigger: 'smoke', reason: 'smoke test failed: x' }, { kind: 'none' }, NOW, '2.0.0').record;
  const rows: [string, RolloutRecord, string, string | null][] = [
    ['deploying', rec(), 'rolling_out', null],
    ['analysing', atStep(1, 'analyse'), 'rolling_out', null],
    ['paused', atStep(1, 'paused'), 'rolling_out', null],
    ['post-deploy checks', atStep(2, 'post_deploy'), 'verifying', null],
    ['finalizing', atStep(2, 'finalize'), 'verifying', null],
    ['done', atStep(2, 'done'), 'succeeded', null],
    ['a rollback decided', decided, 'rolling_back', 'smoke test failed: x'],
    [
      'rolled back',
      advance(decided, { kind: 'rollback' }, { kind: 'rollback', restoredAt: NOW, verifiedAt: NOW, problems: [], failure: null }, NOW, '2.0.0').record,
      'rolled_back',
      'smoke test failed: x',
    ],
    [
      'a rollback that could not move traffic',
      advance(decided, { kind: 'rollback' }, { kind: 'rollback', restoredAt: null, verifiedAt: null, problems: [], failure: 'refused' }, NOW, '2.0.0').record,
      'rollback_failed',
      'smoke test failed: x; rollback failed: traffic could not be moved back: refused',
    ],
    [
      'a rollback that did not verify',
      advance(decided, { kind: 'rollback' }, { kind: 'rollback', restoredAt: NOW, verifiedAt: NOW, problems: ['stable down'], failure: null }, NOW, '2.0.0').record,
      'rollback_failed',
      'smoke test failed: x; rollback verification failed: stable down',
    ],
  ];
  for (const [what, r, state, reason] of rows) {
    test(what, () => {
      assert.equal(stateOf(r), state);
      assert.equal(reasonOf(r), reason);
    });
  }

  test('a first deployment goes to 100% at once', () => {
    assert.deepEqual(firstRecord(plan, true, null, NOW).plan.steps, [100]);
    assert.deepEqual(firstRecord(plan, false, null, NOW).plan.steps, [10, 50, 100]);
  });
});

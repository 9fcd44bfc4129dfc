// Deployment figures from a scripted history with a fixed clock; every expected number below
// is worked out by hand in the comments beside it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeFigures, type Figure, formatFigure, median, parseSince, percentile } from '../../src/domain/figures.js';
import { deployment, HISTORY, MIN, NOW } from '../features/figures/history.js';

const fig = (figures: Figure[], id: string) => figures.find((f) => f.id === id)!;

describe('deployment figures', () => {
  const out = computeFigures({ environment: 'production', service: null, since: parseSince('30d', NOW), now: NOW, deployments: HISTORY });

  test('counts: ten reached production, all ended; the staging, older and cancelled ones are not counted', () => {
    assert.equal(out.days, 30);
    assert.equal(out.deployed, 10);
    assert.equal(out.finished, 10);
  });

  test("DORA's five from the hand-worked history", () => {
    const f = out.figures;
    // 7 succeeded over 30 days.
    assert.equal(fig(f, 'deployment_frequency').value, 7 / 30);
    assert.equal(fig(f, 'deployment_frequency').n, 7);
    // Lead times (min): 15, 100, 160, 220, 280, 340, 400 → median 220; p90 rank ceil(6.3) = 7 → 400.
    assert.equal(fig(f, 'lead_time').median, 220 * MIN);
    assert.equal(fig(f, 'lead_time').p90, 400 * MIN);
    // 3 of the 10 that ended failed.
    assert.deepEqual([fig(f, 'change_failure_rate').value, fig(f, 'change_failure_rate').of], [0.3, { count: 3, total: 10 }]);
    // Recovery = rollback verified − rollback decided: 5 s, 9 s, 15 s → median 9 s, p90 rank 3 → 15 s.
    assert.deepEqual([fig(f, 'recovery_time').median, fig(f, 'recovery_time').p90], [9000, 15000]);
    // One hotfix among 10.
    assert.equal(fig(f, 'rework_rate').value, 0.1);
  });

  test("the seeds' figures", () => {
    const f = out.figures;
    assert.equal(fig(f, 'success_rate').value, 0.7);
    // Approval → success: six of 30 min, the hotfix's 10 min → median 30 min, p90 30 min.
    assert.deepEqual([fig(f, 'time_to_deploy').median, fig(f, 'time_to_deploy').p90, fig(f, 'time_to_deploy').n], [30 * MIN, 30 * MIN, 7]);
    // Decided → traffic on stable: 2, 4, 6 s.
    assert.deepEqual([fig(f, 'time_to_rollback').median, fig(f, 'time_to_rollback').p90], [4000, 6000]);
    // MTTR is the mean: (5 + 9 + 15) / 3 s.
    assert.equal(fig(f, 'mttr').value, 29000 / 3);
    // 3 rollbacks in 10; 3 in 30 days = 0.7 a week.
    assert.equal(fig(f, 'rollback_frequency').value, 0.3);
    assert.ok(Math.abs(fig(f, 'rollback_frequency').perWeek! - 0.7) < 1e-12);
  });

  test('canary-caught rollbacks are counted apart from failures that reached 100%', () => {
    assert.equal(out.rollbacks.canaryCaught, 2);
    assert.equal(out.rollbacks.reachedFull, 1);
    assert.deepEqual(
      out.rollbacks.deployments.map((r) => [r.id, r.caught, r.weight, r.trigger]),
      [
        [3, 'canary', 10, 'analysis'],
        [6, 'canary', 10, 'analysis'],
        [9, 'full', 100, 'post_deploy'],
      ],
    );
  });

  test('every figure carries its definition, printed beside its number', () => {
    for (const f of out.figures) assert.ok(f.definition.length > 20, `${f.id} has a definition`);
    assert.equal(formatFigure(fig(out.figures, 'change_failure_rate')), '30.0% (3/10)');
    assert.equal(formatFigure(fig(out.figures, 'lead_time')), 'median 3.7 h, p90 6.7 h (n=7)');
    assert.equal(formatFigure(fig(out.figures, 'rollback_frequency')), '30.0% (3/10), 0.70/week');
  });

  test('the per-day series puts each ending on its day', () => {
    const nov3 = out.perDay.find((d) => d.day === '2026-11-03')!;
    const nov10 = out.perDay.find((d) => d.day === '2026-11-10')!;
    assert.deepEqual([nov3.succeeded, nov3.failed, nov10.succeeded, nov10.failed], [0, 1, 1, 0]);
    assert.equal(out.perDay.reduce((a, d) => a + d.succeeded, 0), 7);
  });

  test("a failure without a rollback is recovered by the service's next success; it reached 100% (no canary)", () => {
    const history = [deployment(1, 1, { outcome: 'failed' }), deployment(2, 1, { outcome: 'succeeded', doneMin: 150 })];
    // Failed at 10:30; the next success at 12:30 → 2 h.
    const f = computeFigures({ environment: 'production', service: 'web', since: parseSince('2026-11-01', NOW), now: NOW, deployments: history });
    assert.equal(fig(f.figures, 'recovery_time').median, 120 * MIN);
    assert.deepEqual([f.rollbacks.canaryCaught, f.rollbacks.reachedFull], [0, 1]);
  });

  test('an empty window gives no data, never NaN', () => {
    const f = computeFigures({ environment: 'production', service: null, since: parseSince('1d', NOW), now: NOW, deployments: HISTORY });
    assert.equal(f.deployed, 0);
    assert.equal(fig(f.figures, 'change_failure_rate').value, null);
    assert.equal(fig(f.figures, 'lead_time').median, null);
    assert.equal(formatFigure(fig(f.figures, 'lead_time')), 'no data');
    assert.equal(fig(f.figures, 'deployment_frequency').value, 0);
  });

  test('--since: spans, dates, and a clear error otherwise', () => {
    assert.equal(parseSince('30d', NOW).toISOString(), '2026-10-25T12:00:00.000Z');
    assert.equal(parseSince('12h', NOW).toISOString(), '2026-11-24T00:00:00.000Z');
    assert.equal(parseSince('2w', NOW).toISOString(), '2026-11-10T12:00:00.000Z');
    assert.equal(parseSince('2026-11-01', NOW).toISOString(), '2026-11-01T00:00:00.000Z');
    assert.throws(() => parseSince('yesterday', NOW), /--since must be a span like 30d/);
    assert.throws(() => parseSince('0d', NOW), /positive/);
    assert.throws(() => parseSince('2027-01-01', NOW), /not in the past/);
  });

  test('median and nearest-rank p90', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9);
    assert.equal(percentile([], 0.9), null);
  });
});

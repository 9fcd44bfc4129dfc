import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateGate, type GateInput } from '../../src/domain/gate.js';
import type { CheckResult } from '../../src/domain/types.js';
import { approval, productionPolicy, release, scan, testReport, verified } from '../support/fixtures.js';

function input(overrides: Partial<GateInput> = {}): GateInput {
  return {
    now: new Date('2026-11-24T13:28:00Z'),
    environment: 'production',
    policy: productionPolicy(),
    release: release({ reports: [scan({ high: 2 })] }),
    type: 'standard',
    incident: null,
    requestedBy: 'carol',
    verifications: [verified('staging', '2026-11-24T12:00:00Z')],
    previousRelease: release({ id: 0, version: '1.4.1' }),
    approvals: [],
    ticks: [],
    ...overrides,
  };
}

function check(result: { checks: CheckResult[] }, id: string): CheckResult {
  const c = result.checks.find((x) => x.id === id);
  assert.ok(c, `check ${id} present`);
  return c;
}

const approved = [approval('alice', 'devops-lead', '2026-11-24T13:00:00Z'), approval('bob', 'tech-lead', '2026-11-24T13:10:00Z')];

describe('the gate explains every check', () => {
  test('a healthy, approved release passes with every check explained', () => {
    const r = evaluateGate(input({ approvals: approved }));
    assert.equal(r.outcome, 'pass');
    assert.deepEqual(
      r.checks.map((c) => [c.id, c.status]),
      [
        ['verified', 'pass'],
        ['soak', 'pass'],
        ['vulnerabilities', 'pass'],
        ['immutable', 'pass'],
        ['window', 'skipped'],
        ['freeze', 'skipped'],
        ['rollback-target', 'pass'],
        ['checklist', 'skipped'],
        ['monitoring', 'skipped'],
        ['approvals', 'pass'],
      ],
    );
    for (const c of r.checks) assert.ok(c.reason.length > 10, `${c.id} has a reason`);
    assert.match(check(r, 'rollback-target').reason, /web 1\.4\.1/);
  });

  test('not verified in staging: pending, and says how to verify', () => {
    const r = evaluateGate(input({ verifications: [], approvals: approved }));
    const c = check(r, 'verified');
    assert.equal(c.status, 'pending');
    assert.match(c.reason, /not verified in staging yet.*shipgate verify web 1\.4\.2 staging/);
    assert.equal(check(r, 'soak').status, 'pending');
    assert.equal(r.outcome, 'blocked');
  });

  test('soak time counts from the staging verification and says when it passes', () => {
    const r = evaluateGate(input({ verifications: [verified('staging', '2026-11-24T13:05:00Z')] }));
    const c = check(r, 'soak');
    assert.equal(c.status, 'pending');
    assert.equal(c.reason, 'soaked 23 min of 60 in staging; passes at 14:05 UTC');
    assert.equal(c.figure, 23);
    assert.equal(c.threshold, 60);
    assert.equal(c.passesAt, '2026-11-24T14:05:00.000Z');
    const later = evaluateGate(input({ now: new Date('2026-11-24T14:05:00Z'), verifications: [verified('staging', '2026-11-24T13:05:00Z')] }));
    assert.equal(check(later, 'soak').status, 'pass');
  });

  test('a critical vulnerability fails the gate for good, naming the count and the report', () => {
    const r = evaluateGate(input({ release: release({ reports: [scan({ critical: 1, high: 3 })] }), approvals: approved }));
    const c = check(r, 'vulnerabilities');
    assert.equal(c.status, 'fail');
    assert.equal(c.final, true);
    assert.equal(c.reason, '1 critical (max 0) in trivy.json');
    assert.equal(r.outcome, 'failed');
  });

  test('no scan: a warning, or a failure when the policy requires one', () => {
    assert.equal(check(evaluateGate(input({ release: release() })), 'vulnerabilities').status, 'warn');
    const strict = evaluateGate(input({ release: release(), policy: productionPolicy({ requireScan: true }) }));
    assert.equal(check(strict, 'vulnerabilities').status, 'fail');
    assert.match(check(strict, 'vulnerabilities').reason, /requires one/);
  });

  test('a mutable tag or a different digest fails the immutable-artifact check', () => {
    const tag = evaluateGate(input({ release: release({ version: 'latest' }) }));
    assert.equal(check(tag, 'immutable').status, 'fail');
    assert.match(check(tag, 'immutable').reason, /'latest' is a mutable tag/);
    const digest = evaluateGate(input({ expectedDigest: `sha256:${'cd'.repeat(32)}` }));
    assert.equal(check(digest, 'immutable').status, 'fail');
    assert.match(check(digest, 'immutable').reason, /does not match sha256:abab.* recorded at build time/);
    assert.equal(check(evaluateGate(input({ expectedDigest: `sha256:${'ab'.repeat(32)}` })), 'immutable').status, 'pass');
  });

  test('outside the Tue–Thu window it waits, and says when the next window opens', () => {
    const policy = productionPolicy({
      calendar: { timezone: 'Europe/Amsterdam', windows: [{ days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' }], freezes: [] },
    });
    // Monday 23 Nov 2026, 15:00 in Amsterdam
    const r = evaluateGate(
      input({
        now: new Date('2026-11-23T14:00:00Z'),
        policy,
        verifications: [verified('staging', '2026-11-23T10:00:00Z')],
        approvals: [approval('alice', 'devops-lead', '2026-11-23T13:00:00Z'), approval('bob', 'tech-lead', '2026-11-23T13:10:00Z')],
      }),
    );
    const c = check(r, 'window');
    assert.equal(c.status, 'pending');
    assert.match(c.reason, /outside the deployment windows.*Europe\/Amsterdam.*next window opens/);
    assert.equal(c.passesAt, '2026-11-24T09:00:00.000Z');
    assert.equal(r.outcome, 'waiting_for_window');
    // Tuesday 11:00 Amsterdam: open
    const open = evaluateGate(input({ now: new Date('2026-11-24T10:00:00Z'), policy }));
    assert.equal(check(open, 'window').status, 'pass');
  });

  test('a change freeze blocks and names the freeze and when deployments resume', () => {
    const policy = productionPolicy({
      calendar: {
        timezone: 'Europe/Amsterdam',
        windows: [{ days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' }],
        freezes: [{ name: 'black-friday', kind: 'once', from: '2026-11-26', to: '2026-11-30', reason: 'peak trading' }],
      },
    });
    const r = evaluateGate(input({ now: new Date('2026-11-26T10:00:00Z'), policy }));
    const c = check(r, 'freeze');
    assert.equal(c.status, 'pending');
    assert.match(c.reason, /frozen by 'black-friday' \(peak trading\) until .*; next window opens .*Europe\/Amsterdam/);
    // The next window after the freeze: Tuesday 1 Dec 10:00 Amsterdam
    assert.equal(c.passesAt, '2026-12-01T09:00:00.000Z');
  });

  test('a first deployment fails rollback_target: required, saying why and how to proceed; warn only warns', () => {
    const r = evaluateGate(input({ previousRelease: null, approvals: approved }));
    const c = check(r, 'rollback-target');
    assert.equal(c.status, 'fail');
    assert.equal(c.final, true);
    assert.match(c.reason, /first deployment of web to production: there is no earlier release to roll back to/);
    assert.match(c.reason, /the policy requires one \(rollback_target: required\); deploy the first release with rollback_target: warn/);
    assert.equal(r.outcome, 'failed');

    const warned = evaluateGate(input({ previousRelease: null, approvals: approved, policy: productionPolicy({ rollbackTarget: 'warn' }) }));
    assert.equal(check(warned, 'rollback-target').status, 'warn');
    assert.match(check(warned, 'rollback-target').reason, /first deployment of web to production/);
    assert.equal(warned.outcome, 'pass');
  });

  test('a rollback must name a release that ran here before', () => {
    const r = evaluateGate(input({ type: 'rollback', releaseRanHereBefore: false }));
    assert.equal(check(r, 'rollback-target').status, 'fail');
    assert.equal(r.outcome, 'failed');
    const ok = evaluateGate(input({ type: 'rollback', releaseRanHereBefore: true, verifications: [] }));
    assert.equal(check(ok, 'rollback-target').status, 'pass');
    assert.equal(check(ok, 'verified').status, 'skipped');
  });

  test('checklist: test evidence, person ticks, and failing evidence', () => {
    const policy = productionPolicy({
      checklist: [
        { id: 'tests-passed', text: 'Tests passed', evidence: 'tests' },
        { id: 'rollback-plan', text: 'Rollback plan reviewed' },
      ],
    });
    const missing = evaluateGate(input({ policy }));
    assert.equal(check(missing, 'checklist').status, 'pending');
    assert.equal(check(missing, 'checklist').reason, '0/2 done; missing: tests-passed (attach a test report), rollback-plan (a person ticks it)');
    const done = evaluateGate(
      input({
        policy,
        release: release({ reports: [testReport(120, 0)] }),
        ticks: [{ deploymentId: 1, item: 'rollback-plan', user: 'alice', note: null, at: '2026-11-24T13:00:00Z' }],
      }),
    );
    assert.equal(check(done, 'checklist').status, 'pass');
    assert.match(check(done, 'checklist').reason, /junit\.xml: 120 tests, 0 failing.*ticked by alice/);
    const failing = evaluateGate(input({ policy, release: release({ reports: [testReport(120, 3)] }) }));
    assert.equal(check(failing, 'checklist').status, 'fail');
    assert.match(check(failing, 'checklist').reason, /junit\.xml: 3 failing of 120/);
    assert.equal(failing.outcome, 'failed');
  });

  test('approvals pending say who is missing; a rejection ends it with the reason', () => {
    const pending = evaluateGate(input({ approvals: [approved[0]] }));
    assert.equal(check(pending, 'approvals').status, 'pending');
    assert.match(check(pending, 'approvals').reason, /approvals 1\/2: devops-lead 1\/1 \(alice\), tech-lead 0\/1/);
    assert.equal(pending.outcome, 'blocked');
    const rejected = evaluateGate(input({ approvals: [approved[0], approval('bob', 'tech-lead', '2026-11-24T13:20:00Z', 'reject', 'no load test')] }));
    assert.equal(rejected.outcome, 'rejected');
    assert.equal(rejected.summary, 'rejected by bob (tech-lead): no load test');
  });

  test('auto-approving environments pass without approvals when the checks pass', () => {
    const r = evaluateGate(input({ policy: productionPolicy({ autoApprove: true }) }));
    assert.equal(check(r, 'approvals').status, 'pass');
    assert.equal(r.outcome, 'pass');
  });

  test('a hotfix passes window, freeze and soak by break-glass, flagged, with emergency approvers', () => {
    const policy = productionPolicy({
      calendar: {
        timezone: 'Europe/Amsterdam',
        windows: [{ days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' }],
        freezes: [{ name: 'black-friday', kind: 'once', from: '2026-11-26', to: '2026-11-30' }],
      },
    });
    const base = {
      now: new Date('2026-11-28T22:00:00Z'), // Saturday night, frozen, outside windows
      policy,
      type: 'hotfix' as const,
      incident: 'INC-42',
      verifications: [verified('staging', '2026-11-28T21:50:00Z')], // soaked 10 min only
    };
    const waiting = evaluateGate(input(base));
    assert.equal(waiting.outcome, 'blocked');
    assert.match(check(waiting, 'approvals').reason, /emergency approvals 0\/1: vp-engineering 0\/1/);
    const r = evaluateGate(input({ ...base, approvals: [approval('dana', 'vp-engineering', '2026-11-28T21:58:00Z')] }));
    assert.equal(r.outcome, 'pass');
    assert.deepEqual(r.bypassed.sort(), ['freeze', 'soak', 'window']);
    for (const id of ['window', 'freeze', 'soak']) {
      const c = check(r, id);
      assert.equal(c.status, 'warn');
      assert.equal(c.bypassed, true);
      assert.match(c.reason, /^bypassed by hotfix for incident INC-42: /);
    }
    // a hotfix never bypasses a vulnerability failure
    const vuln = evaluateGate(input({ ...base, release: release({ reports: [scan({ critical: 2 })] }), approvals: [approval('dana', 'vp-engineering', '2026-11-28T21:58:00Z')] }));
    assert.equal(vuln.outcome, 'failed');
  });
});

describe('monitoring coverage (the seeds\' "monitoring gap → FAIL")', () => {
  const required = [
    { name: 'requests', query: null },
    { name: 'conversion', query: 'sum(checkout_conversions_total{service="web"})' },
  ];
  const policy = productionPolicy({ monitoring: required });
  const at = '2026-11-24T13:27:00Z';

  test('a required metric missing from the source fails the gate, naming it and the query tried', () => {
    const r = evaluateGate(
      input({
        policy,
        approvals: approved,
        coverage: {
          at,
          source: 'prometheus',
          results: [
            { name: 'requests', query: 'sum(http_request_duration_seconds_count{version="1.4.1"})', found: true, detail: null },
            { name: 'conversion', query: 'sum(checkout_conversions_total{service="web"})', found: false, detail: 'no series' },
          ],
        },
      }),
    );
    const c = check(r, 'monitoring');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /monitoring gap in prometheus: conversion missing \(query tried: sum\(checkout_conversions_total\{service="web"\}\); no series\)/);
    assert.equal(c.final, undefined, 'adding the metric lets the same deployment pass later');
    assert.equal(r.outcome, 'blocked');
    assert.deepEqual([c.figure, c.threshold], [1, 2]);
  });

  test('every required metric found passes; not asked yet or no answer is pending, never a pass', () => {
    const found = evaluateGate(input({ policy, approvals: approved, coverage: { at, source: 'prometheus', results: required.map((m) => ({ name: m.name, query: m.query ?? m.name, found: true, detail: null })) } }));
    assert.equal(check(found, 'monitoring').status, 'pass');
    assert.equal(found.outcome, 'pass');
    const notAsked = evaluateGate(input({ policy, approvals: approved }));
    assert.equal(check(notAsked, 'monitoring').status, 'pending');
    assert.equal(notAsked.outcome, 'blocked');
    const first = evaluateGate(input({ policy, approvals: approved, previousRelease: null, coverage: { at, source: 'prometheus', results: [{ name: 'requests', query: 'q', found: false, detail: 'no series' }] } }));
    assert.equal(check(first, 'monitoring').status, 'warn', 'a first deployment has nothing serving to measure yet');
    const down = evaluateGate(input({ policy, approvals: approved, coverage: { at, source: 'prometheus', error: 'connect ECONNREFUSED 127.0.0.1:9090' } }));
    assert.equal(check(down, 'monitoring').status, 'pending');
    assert.match(check(down, 'monitoring').reason, /could not ask the prometheus metrics source for requests, conversion: connect ECONNREFUSED/);
  });
});

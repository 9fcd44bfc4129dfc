import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateGate, type GateInput } from '../../src/domain/gate.js';
import { compareParity, type SettingFact } from '../../src/domain/parity.js';
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

describe('rollback rehearsal: recent and within the SLO', () => {
  const rule = { environment: 'staging', maxAgeDays: 7, sloSeconds: 300 };
  const rehearsal = (over: Partial<NonNullable<GateInput['rehearsal']>> = {}): NonNullable<GateInput['rehearsal']> => ({
    service: 'web',
    version: '1.4.0',
    environment: 'staging',
    at: '2026-11-20T10:00:00.000Z',
    ok: true,
    msToVerified: 95_000,
    problems: [],
    ...over,
  });
  const withRule = (over: Partial<GateInput> = {}) => input({ policy: productionPolicy({ rollbackRehearsal: rule }), approvals: approved, ...over });

  test('not listed when the policy does not ask for one', () => {
    assert.equal(evaluateGate(input({ approvals: approved })).checks.some((c) => c.id === 'rollback-rehearsal'), false);
  });

  test('missing: fails, not for good, and says the command to run', () => {
    const r = evaluateGate(withRule());
    const c = check(r, 'rollback-rehearsal');
    assert.equal(c.status, 'fail');
    assert.notEqual(c.final, true);
    assert.match(c.reason, /^no rollback rehearsal of web in staging; run `shipgate rehearse web <version> staging`/);
    assert.equal(r.outcome, 'blocked');
  });

  test('within the SLO and recent: passes with the figure and when to rehearse again', () => {
    const c = check(evaluateGate(withRule({ rehearsal: rehearsal() })), 'rollback-rehearsal');
    assert.equal(c.status, 'pass');
    assert.equal(c.figure, '1m35s');
    assert.match(c.reason, /rollback took 1m35s in the rehearsal of 1\.4\.0 on 2026-11-20 in staging; SLO 5m; rehearse again before 2026-11-27/);
  });

  test('slower than the SLO: fails with the figure', () => {
    const c = check(evaluateGate(withRule({ rehearsal: rehearsal({ msToVerified: 432_000 }) })), 'rollback-rehearsal');
    assert.equal(c.status, 'fail');
    assert.equal(c.figure, '7m12s');
    assert.match(c.reason, /^rollback took 7m12s in the rehearsal of 1\.4\.0 on 2026-11-20 in staging; SLO 5m/);
  });

  test('older than `within`: fails with its age', () => {
    const c = check(evaluateGate(withRule({ rehearsal: rehearsal({ at: '2026-11-10T09:00:00.000Z' }) })), 'rollback-rehearsal');
    assert.equal(c.status, 'fail');
    assert.equal(c.figure, '14d old');
    assert.match(c.reason, /is 14 days old .*within 7d/);
  });

  test('a rehearsal whose rollback failed fails with its problems', () => {
    const c = check(evaluateGate(withRule({ rehearsal: rehearsal({ ok: false, msToVerified: null, problems: ['rollback: stable not running'] }) })), 'rollback-rehearsal');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /rollback failed .*stable not running/);
  });

  test('a rollback deployment needs no rehearsal', () => {
    const r = evaluateGate(withRule({ type: 'rollback', releaseRanHereBefore: true }));
    assert.equal(check(r, 'rollback-rehearsal').status, 'skipped');
  });
});

describe('security posture: certificate and headers of the service address', () => {
  const security = { urls: { web: 'https://web.example.test' } as Record<string, string>, minCertDays: 14, require: ['hsts', 'csp', 'x_frame_options'] as ('hsts' | 'csp' | 'x_frame_options')[], hstsMinMaxAgeSeconds: 15_552_000, timeoutMs: 5000, ca: null };
  const good = {
    at: '2026-11-24T13:27:00.000Z',
    url: 'https://web.example.test',
    status: 200,
    certificate: { trusted: true, problem: null, validTo: '2027-02-01T00:00:00.000Z', subject: 'web.example.test', issuer: 'Example CA' },
    headers: { hsts: 'max-age=31536000; includeSubDomains', csp: "default-src 'self'", xFrameOptions: 'DENY' },
  };
  const withProbe = (probe: GateInput['security'], over: Partial<typeof security> = {}) =>
    evaluateGate(input({ policy: productionPolicy({ security: { ...security, ...over } }), approvals: approved, security: probe }));

  test('a trusted certificate with time left and every header: passes with the figures', () => {
    const r = withProbe(good);
    const cert = check(r, 'certificate');
    assert.equal(cert.status, 'pass');
    assert.equal(cert.figure, 68);
    assert.match(cert.reason, /expires 2027-02-01, 68 days left/);
    const h = check(r, 'security-headers');
    assert.equal(h.status, 'pass');
    assert.equal(h.figure, '3/3');
    assert.equal(r.outcome, 'pass');
  });

  test('a certificate expiring within min_cert_days fails with its expiry and days left', () => {
    const c = check(withProbe({ ...good, certificate: { ...good.certificate, validTo: '2026-11-27T12:00:00.000Z' } }), 'certificate');
    assert.equal(c.status, 'fail');
    assert.equal(c.figure, 2);
    assert.match(c.reason, /expires 2026-11-27, 2 days left; the policy wants ≥ 14/);
  });

  test('an untrusted certificate fails and says how to trust a private CA', () => {
    const c = check(withProbe({ ...good, certificate: { ...good.certificate, trusted: false, problem: 'DEPTH_ZERO_SELF_SIGNED_CERT' } }), 'certificate');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\).*security\.ca/);
  });

  test('each missing header is named; a short HSTS max-age says the minimum', () => {
    const c = check(withProbe({ ...good, headers: { hsts: 'max-age=300', csp: null, xFrameOptions: null } }), 'security-headers');
    assert.equal(c.status, 'fail');
    assert.equal(c.figure, '0/3');
    assert.match(c.reason, /Strict-Transport-Security max-age 300 < 15552000; Content-Security-Policy missing; X-Frame-Options missing/);
  });

  test('CSP frame-ancestors stands in for X-Frame-Options', () => {
    const c = check(withProbe({ ...good, headers: { ...good.headers, csp: "default-src 'self'; frame-ancestors 'none'", xFrameOptions: null } }), 'security-headers');
    assert.equal(c.status, 'pass');
  });

  test('an unreachable address is pending with the error, never a pass', () => {
    const r = withProbe({ at: good.at, url: good.url, error: 'connect ECONNREFUSED 127.0.0.1:443' });
    for (const id of ['certificate', 'security-headers']) {
      const c = check(r, id);
      assert.equal(c.status, 'pending');
      assert.match(c.reason, /could not reach https:\/\/web\.example\.test: connect ECONNREFUSED/);
    }
    assert.equal(r.outcome, 'blocked');
  });

  test('a service without an address is skipped', () => {
    assert.equal(check(withProbe(null, { urls: { api: 'https://api.example.test' } }), 'certificate').status, 'skipped');
  });
});

describe('parity: critical drift from the parity environment', () => {
  const parity = { against: 'staging', allow: ['DB_URL'], critical: ['FEATURE_*'] as string[] | 'all_except_allowed' };
  const report = (fromSettings: Record<string, SettingFact>, toSettings: Record<string, SettingFact>, policy = parity) =>
    compareParity({ from: 'staging', to: 'production', fromSettings, toSettings, policy });
  const withReport = (p: ReturnType<typeof report> | null, policy = parity) => evaluateGate(input({ policy: productionPolicy({ parity: policy }), approvals: approved, parity: p }));
  const plain = (value: string): SettingFact => ({ kind: 'plain', value });
  const secret = (sha256: string): SettingFact => ({ kind: 'secret', source: 'env API_KEY', sha256, problem: null });

  test('critical drift fails naming the settings; a secret says only that it differs', () => {
    const r = withReport(report({ FEATURE_X: plain('on'), FEATURE_KEY: secret('a'.repeat(64)), DB_URL: plain('s') }, { FEATURE_X: plain('off'), FEATURE_KEY: secret('b'.repeat(64)), DB_URL: plain('p') }));
    const c = check(r, 'parity');
    assert.equal(c.status, 'fail');
    assert.notEqual(c.final, true);
    assert.match(c.reason, /FEATURE_KEY: differs \(secret; values not shown\); FEATURE_X: differs \(staging "on", production "off"\)/);
    assert.doesNotMatch(c.reason, /aaaa|bbbb|DB_URL/);
    assert.equal(r.outcome, 'blocked');
  });

  test('drift that is neither allowed nor critical warns; allowed drift passes', () => {
    assert.equal(check(withReport(report({ LOG_LEVEL: plain('debug') }, { LOG_LEVEL: plain('info') })), 'parity').status, 'warn');
    assert.equal(check(withReport(report({ DB_URL: plain('s') }, { DB_URL: plain('p') })), 'parity').status, 'pass');
  });

  test('all_except_allowed makes any other drift critical, a setting missing on one side too', () => {
    const policy = { ...parity, critical: 'all_except_allowed' as const };
    const c = check(withReport(report({ LOG_LEVEL: plain('debug') }, {}, policy), policy), 'parity');
    assert.equal(c.status, 'fail');
    assert.match(c.reason, /LOG_LEVEL: set in staging only/);
  });

  test('no settings declared on either side: warns that nothing was compared', () => {
    const c = check(withReport(report({}, {})), 'parity');
    assert.equal(c.status, 'warn');
    assert.match(c.reason, /neither staging nor production declares settings/);
  });

  test('not compared yet: pending', () => {
    assert.equal(check(withReport(null), 'parity').status, 'pending');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareParity, matchesPattern, type SettingFact } from '../../src/domain/parity.js';

const plain = (value: string): SettingFact => ({ kind: 'plain', value });
const secret = (sha256: string | null, problem: string | null = null): SettingFact => ({ kind: 'secret', source: 'env X', sha256, problem });

describe('parity between two environments', () => {
  test('each kind of drift, with plain values shown and secrets never carried', () => {
    const r = compareParity({
      from: 'staging',
      to: 'production',
      fromSettings: { A: plain('1'), B: plain('x'), C: secret('c'.repeat(64)), ONLY_S: plain('s'), SAME_SECRET: secret('d'.repeat(64)), GONE: secret(null, 'STAGING_GONE is not set') },
      toSettings: { A: plain('1'), B: plain('y'), C: secret('e'.repeat(64)), ONLY_P: plain('p'), SAME_SECRET: secret('d'.repeat(64)), GONE: secret('f'.repeat(64)) },
      versions: [{ service: 'web', from: '1.5.0', to: '1.4.2' }, { service: 'api', from: '2.0.0', to: '2.0.0' }],
      policy: { allow: ['ONLY_*'], critical: ['C', 'GONE', 'B'] },
    });
    const by = Object.fromEntries(r.settings.map((s) => [s.name, s]));
    assert.equal(by.A.drift, 'same');
    assert.deepEqual([by.B.drift, by.B.from, by.B.to, by.B.critical], ['differs', 'x', 'y', true]);
    assert.deepEqual([by.C.drift, by.C.secret, by.C.from, by.C.to], ['differs', true, undefined, undefined]);
    assert.equal(by.SAME_SECRET.drift, 'same');
    assert.equal(by.GONE.drift, 'unreadable');
    assert.equal(by.GONE.problem, 'STAGING_GONE is not set');
    assert.deepEqual([by.ONLY_S.drift, by.ONLY_S.allowed, by.ONLY_P.drift], ['only_in_from', true, 'only_in_to']);
    assert.deepEqual(r.critical, ['B', 'C', 'GONE']);
    assert.deepEqual(r.versions.map((v) => v.same), [false, true]);
    const text = JSON.stringify(r);
    assert.doesNotMatch(text, /cccc|eeee|dddd|ffff/, 'no secret hash in the report');
    assert.match(r.summary, /C: differs \(secret; values not shown\)/);
  });

  test('without a parity policy nothing is critical; all_except_allowed makes everything else critical', () => {
    const args = { from: 's', to: 'p', fromSettings: { A: plain('1'), B: plain('1') }, toSettings: { A: plain('2'), B: plain('2') } };
    assert.deepEqual(compareParity({ ...args, policy: null }).critical, []);
    assert.deepEqual(compareParity({ ...args, policy: { allow: ['A'], critical: 'all_except_allowed' } }).critical, ['B']);
  });

  test('patterns: * is any run of characters, everything else literal', () => {
    assert.equal(matchesPattern('FEATURE_X', 'FEATURE_*'), true);
    assert.equal(matchesPattern('FEATURES', 'FEATURE_*'), false);
    assert.equal(matchesPattern('a.b', 'a.b'), true);
    assert.equal(matchesPattern('axb', 'a.b'), false);
  });
});

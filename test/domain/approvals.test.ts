import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseApprovalRole, tallyApprovals } from '../../src/domain/approvals.js';
import { approval } from '../support/fixtures.js';

const rules = [
  { role: 'devops-lead', count: 1 },
  { role: 'tech-lead', count: 1 },
];
const now = new Date('2026-11-24T12:00:00Z');
const ttl = 24 * 60;

describe('approval rules', () => {
  test('one devops lead AND one tech lead are needed', () => {
    const one = tallyApprovals({ rules, approvals: [approval('alice', 'devops-lead', '2026-11-24T11:00:00Z')], requester: 'carol', ttlMinutes: ttl, now });
    assert.equal(one.satisfied, false);
    assert.match(one.summary, /devops-lead 1\/1 \(alice\), tech-lead 0\/1/);
    const both = tallyApprovals({
      rules,
      approvals: [approval('alice', 'devops-lead', '2026-11-24T11:00:00Z'), approval('bob', 'tech-lead', '2026-11-24T11:30:00Z')],
      requester: 'carol',
      ttlMinutes: ttl,
      now,
    });
    assert.equal(both.satisfied, true);
    assert.equal(both.firstExpiry, '2026-11-25T11:00:00.000Z');
  });

  test('the same person counts once even when approving in two roles', () => {
    const t = tallyApprovals({
      rules,
      approvals: [approval('erin', 'devops-lead', '2026-11-24T11:00:00Z'), approval('erin', 'tech-lead', '2026-11-24T11:01:00Z')],
      requester: 'carol',
      ttlMinutes: ttl,
      now,
    });
    assert.equal(t.satisfied, false);
    assert.deepEqual(t.roles.map((r) => r.approvedBy), [['erin'], []]);
  });

  test('two approvals per role need two distinct people', () => {
    const two = [{ role: 'devops-lead', count: 2 }];
    const t = tallyApprovals({
      rules: two,
      approvals: [approval('alice', 'devops-lead', '2026-11-24T11:00:00Z'), approval('alice', 'devops-lead', '2026-11-24T11:05:00Z')],
      requester: 'carol',
      ttlMinutes: ttl,
      now,
    });
    assert.equal(t.satisfied, false);
    assert.match(t.summary, /devops-lead 1\/2/);
  });

  test("the requester's own approval never counts", () => {
    const t = tallyApprovals({ rules: [{ role: 'devops-lead', count: 1 }], approvals: [approval('alice', 'devops-lead', '2026-11-24T11:00:00Z')], requester: 'alice', ttlMinutes: ttl, now });
    assert.equal(t.satisfied, false);
  });

  test('approvals older than the TTL expire and stop counting', () => {
    const t = tallyApprovals({
      rules,
      approvals: [approval('alice', 'devops-lead', '2026-11-23T11:59:59Z'), approval('bob', 'tech-lead', '2026-11-24T11:00:00Z')],
      requester: 'carol',
      ttlMinutes: ttl,
      now,
    });
    assert.equal(t.satisfied, false);
    assert.deepEqual(t.expired.map((a) => a.user), ['alice']);
    assert.match(t.summary, /expired: alice/);
    // exactly at the TTL edge it has lapsed; a second earlier it still counts
    const edge = tallyApprovals({ rules: [{ role: 'devops-lead', count: 1 }], approvals: [approval('alice', 'devops-lead', '2026-11-23T12:00:00Z')], requester: 'carol', ttlMinutes: ttl, now });
    assert.equal(edge.satisfied, false);
    const before = tallyApprovals({ rules: [{ role: 'devops-lead', count: 1 }], approvals: [approval('alice', 'devops-lead', '2026-11-23T12:00:01Z')], requester: 'carol', ttlMinutes: ttl, now });
    assert.equal(before.satisfied, true);
  });

  test('any rejection ends it, with its reason', () => {
    const t = tallyApprovals({
      rules,
      approvals: [approval('alice', 'devops-lead', '2026-11-24T11:00:00Z'), approval('bob', 'tech-lead', '2026-11-24T11:10:00Z', 'reject', 'migration not reviewed')],
      requester: 'carol',
      ttlMinutes: ttl,
      now,
    });
    assert.equal(t.satisfied, false);
    assert.equal(t.rejection?.user, 'bob');
    assert.equal(t.summary, 'rejected by bob (tech-lead): migration not reviewed');
  });

  test('the role recorded is the one asked for, or the only open one', () => {
    const empty = tallyApprovals({ rules, approvals: [], requester: 'carol', ttlMinutes: ttl, now });
    assert.deepEqual(chooseApprovalRole({ name: 'alice', roles: ['devops-lead'] }, rules, empty, null), { role: 'devops-lead' });
    const both = chooseApprovalRole({ name: 'erin', roles: ['devops-lead', 'tech-lead'] }, rules, empty, null);
    assert.ok('error' in both && /several approver roles/.test(both.error));
    assert.deepEqual(chooseApprovalRole({ name: 'erin', roles: ['devops-lead', 'tech-lead'] }, rules, empty, 'tech-lead'), { role: 'tech-lead' });
    const none = chooseApprovalRole({ name: 'carol', roles: ['developer'] }, rules, empty, null);
    assert.ok('error' in none && /holds no approver role here \(needs devops-lead or tech-lead\)/.test(none.error));
  });
});

// Calendar answers kept for the minute (src/domain/calendar.ts): asked again and again about
// one calendar, as the gate does on every approval, the answers stay those of a calendar asked
// for the first time, to the millisecond around window and freeze edges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freezeStatus, nextDeployableAt, windowStatus } from '../../src/domain/calendar.js';
import type { Calendar } from '../../src/domain/types.js';

const calendar: Calendar = {
  timezone: 'Europe/Amsterdam',
  windows: [{ days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' }],
  freezes: [
    { name: 'launch', kind: 'once', from: '2026-11-25T11:15', to: '2026-11-25T12:45', reason: 'launch day' },
    { name: 'weekend', kind: 'weekly', from: 'fri 16:00', to: 'mon 08:00' },
  ],
};

const answers = (c: Calendar, now: Date) => JSON.stringify({ w: windowStatus(c, now), f: freezeStatus(c, now), n: nextDeployableAt(c, now) });

test('a calendar asked many times in a minute answers each instant as if asked first', () => {
  // Edges in UTC (Amsterdam is UTC+1 in November): window opens 09:00Z, launch freeze 10:15Z–11:45Z, window closes 13:00Z.
  const edges = ['2026-11-24T09:00:00Z', '2026-11-24T13:00:00Z', '2026-11-25T10:15:00Z', '2026-11-25T11:45:00Z', '2026-11-27T15:00:00Z'];
  const offsets = [-60_001, -30_000, -1, 0, 1, 29_999, 59_999, 60_000];
  let compared = 0;
  for (const edge of edges) {
    for (const off of offsets) {
      const now = new Date(Date.parse(edge) + off);
      // A copy is a calendar never asked before: its answer is computed afresh.
      assert.equal(answers(calendar, now), answers(structuredClone(calendar), now), `at ${now.toISOString()}`);
      compared++;
    }
  }
  assert.equal(compared, edges.length * offsets.length);
});

test('deployable now: each instant of the minute is its own answer, not the first one asked', () => {
  const first = new Date('2026-11-24T09:30:10.000Z');
  const later = new Date('2026-11-24T09:30:50.500Z');
  assert.equal(nextDeployableAt(calendar, first)?.toISOString(), first.toISOString());
  assert.equal(nextDeployableAt(calendar, later)?.toISOString(), later.toISOString());
});

test('the last millisecond before a window closes is open, the close itself is not', () => {
  assert.deepEqual(windowStatus(calendar, new Date('2026-11-24T12:59:59.999Z')), { open: true, closesAt: new Date('2026-11-24T13:00:00.000Z'), opensAt: null });
  assert.deepEqual(windowStatus(calendar, new Date('2026-11-24T13:00:00.000Z')), { open: false, closesAt: null, opensAt: new Date('2026-11-25T09:00:00.000Z') });
  // An answer handed out is the caller's: changing it changes nothing kept.
  const w = windowStatus(calendar, new Date('2026-11-24T12:00:00.000Z'));
  w.closesAt!.setTime(0);
  assert.equal(windowStatus(calendar, new Date('2026-11-24T12:00:30.000Z')).closesAt?.toISOString(), '2026-11-24T13:00:00.000Z');
});

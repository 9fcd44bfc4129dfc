// Deployment windows and change freezes as a release manager sees them: local wall times that
// hold across daylight-saving changes, freeze edges to the second, and the next instant a
// deployment may start.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  formatLocal,
  freezeStatus,
  nextDeployableAt,
  validateHHMM,
  validateHolidayCountry,
  validateLocalDateOrDateTime,
  validateMonthDay,
  validateTimezone,
  validateWeeklyPoint,
  windowStatus,
} from '../../src/domain/calendar.js';
import { holidayRegionsSource } from '../support/holiday-regions.js';
import type { Calendar, Freeze, WeeklyWindow } from '../../src/domain/types.js';
import { InputError } from '../../src/errors.js';

const AMS = 'Europe/Amsterdam';
const NYC = 'America/New_York';
const tueThu: WeeklyWindow = { days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' };

function cal(timezone: string, windows: WeeklyWindow[], freezes: Freeze[] = []): Calendar {
  return { timezone, windows, freezes };
}
const at = (iso: string) => new Date(iso);
const iso = (d: Date | null) => (d ? d.toISOString() : null);

describe('deployment windows', () => {
  const ams = cal(AMS, [tueThu]);

  test('the same 10:00 Amsterdam opening is 09:00 UTC in winter and 08:00 UTC in summer (March change)', () => {
    // Tue 24 March 2026 is before the last Sunday of March (29th), Tue 31 March after it.
    assert.equal(windowStatus(ams, at('2026-03-24T09:00:00Z')).open, true);
    assert.equal(windowStatus(ams, at('2026-03-24T08:30:00Z')).open, false);
    assert.equal(windowStatus(ams, at('2026-03-31T08:00:00Z')).open, true);
    assert.equal(windowStatus(ams, at('2026-03-31T07:59:59Z')).open, false);
    // closing at 14:00 local moves the same way
    assert.equal(iso(windowStatus(ams, at('2026-03-24T12:00:00Z')).closesAt), '2026-03-24T13:00:00.000Z');
    assert.equal(iso(windowStatus(ams, at('2026-03-31T11:00:00Z')).closesAt), '2026-03-31T12:00:00.000Z');
  });

  test('a closed weekend before the March change points at Tuesday 10:00 summer time', () => {
    const s = windowStatus(ams, at('2026-03-28T12:00:00Z'));
    assert.deepEqual({ open: s.open, opensAt: iso(s.opensAt), closesAt: s.closesAt }, {
      open: false,
      opensAt: '2026-03-31T08:00:00.000Z',
      closesAt: null,
    });
  });

  test('the October change moves 10:00 Amsterdam from 08:00 to 09:00 UTC', () => {
    // last Sunday of October 2026 is the 25th
    assert.equal(windowStatus(ams, at('2026-10-20T08:00:00Z')).open, true);
    assert.equal(windowStatus(ams, at('2026-10-27T08:00:00Z')).open, false);
    assert.equal(iso(windowStatus(ams, at('2026-10-24T12:00:00Z')).opensAt), '2026-10-27T09:00:00.000Z');
    assert.equal(windowStatus(ams, at('2026-10-27T09:00:00Z')).open, true);
  });

  test('America/New_York windows follow US daylight saving (second Sunday of March)', () => {
    const nyc = cal(NYC, [tueThu]);
    assert.equal(windowStatus(nyc, at('2026-03-03T15:00:00Z')).open, true); // 10:00 EST
    assert.equal(windowStatus(nyc, at('2026-03-03T14:30:00Z')).open, false);
    assert.equal(windowStatus(nyc, at('2026-03-10T14:00:00Z')).open, true); // 10:00 EDT
    assert.equal(iso(windowStatus(nyc, at('2026-03-07T12:00:00Z')).opensAt), '2026-03-10T14:00:00.000Z');
    // first Sunday of November back to EST
    assert.equal(iso(windowStatus(nyc, at('2026-10-31T12:00:00Z')).opensAt), '2026-11-03T15:00:00.000Z');
  });

  test('10:00 is open, 14:00 sharp is closed, and a second before 10:00 is closed', () => {
    const open = windowStatus(ams, at('2026-11-24T09:00:00Z')); // Tue 10:00 CET
    assert.deepEqual({ open: open.open, closesAt: iso(open.closesAt), opensAt: open.opensAt }, {
      open: true,
      closesAt: '2026-11-24T13:00:00.000Z',
      opensAt: null,
    });
    assert.equal(windowStatus(ams, at('2026-11-24T12:59:59Z')).open, true);
    const closed = windowStatus(ams, at('2026-11-24T13:00:00Z'));
    assert.equal(closed.open, false);
    assert.equal(iso(closed.opensAt), '2026-11-25T09:00:00.000Z'); // Wednesday 10:00
    const early = windowStatus(ams, at('2026-11-24T08:59:59Z'));
    assert.equal(early.open, false);
    assert.equal(iso(early.opensAt), '2026-11-24T09:00:00.000Z');
  });

  test('Thursday after closing waits for next Tuesday', () => {
    assert.equal(iso(windowStatus(ams, at('2026-11-26T15:00:00Z')).opensAt), '2026-12-01T09:00:00.000Z');
  });

  test('no windows means always open, with no closing or opening time', () => {
    assert.deepEqual(windowStatus(cal(AMS, []), at('2026-11-29T03:00:00Z')), { open: true, closesAt: null, opensAt: null });
  });

  test('adjoining windows close when the last one does', () => {
    const c = cal(AMS, [
      { days: ['mon'], start: '10:00', end: '14:00' },
      { days: ['mon'], start: '14:00', end: '18:00' },
    ]);
    assert.equal(iso(windowStatus(c, at('2026-11-23T10:00:00Z')).closesAt), '2026-11-23T17:00:00.000Z');
  });

  test('a window until 24:00 closes at the next local midnight', () => {
    const c = cal(AMS, [{ days: ['fri'], start: '20:00', end: '24:00' }]);
    const s = windowStatus(c, at('2026-11-27T22:30:00Z')); // Fri 23:30 local
    assert.equal(s.open, true);
    assert.equal(iso(s.closesAt), '2026-11-27T23:00:00.000Z');
  });

  test('on the spring-forward night a 02:00–03:00 window does not exist, so it stays closed', () => {
    const night = cal(AMS, [{ days: ['sun'], start: '02:00', end: '03:00' }]);
    const before = windowStatus(night, at('2026-03-29T00:59:59Z')); // 01:59:59 CET
    assert.equal(before.open, false);
    // the next 02:00 that exists is a week later, in summer time
    assert.equal(iso(before.opensAt), '2026-04-05T00:00:00.000Z');
    assert.equal(windowStatus(night, at('2026-03-29T01:00:00Z')).open, false); // 03:00 CEST
  });

  test('a window starting inside the spring-forward gap opens when the clocks jump', () => {
    const c = cal(AMS, [{ days: ['sun'], start: '02:30', end: '04:00' }]);
    assert.equal(iso(windowStatus(c, at('2026-03-29T00:00:00Z')).opensAt), '2026-03-29T01:00:00.000Z');
    assert.equal(windowStatus(c, at('2026-03-29T01:00:00Z')).open, true);
  });

  test('on the fall-back night the repeated 02:00–03:00 counts once, on its second pass', () => {
    const night = cal(AMS, [{ days: ['sun'], start: '02:00', end: '03:00' }]);
    const first = windowStatus(night, at('2026-10-25T00:30:00Z')); // 02:30 CEST, first pass
    assert.equal(first.open, false);
    assert.equal(iso(first.opensAt), '2026-10-25T01:00:00.000Z'); // 02:00 CET
    const second = windowStatus(night, at('2026-10-25T01:30:00Z')); // 02:30 CET, second pass
    assert.equal(second.open, true);
    assert.equal(iso(second.closesAt), '2026-10-25T02:00:00.000Z');
  });

  test('a calendar with an unknown timezone is refused with the zone named', () => {
    assert.throws(() => windowStatus(cal('Europe/Atlantis', [tueThu]), at('2026-11-24T09:00:00Z')), (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.match(e.message, /Europe\/Atlantis/);
      return true;
    });
  });
});

describe('change freezes', () => {
  const blackFriday: Freeze = { name: 'black-friday', kind: 'once', from: '2026-11-27', to: '2026-11-30', reason: 'peak sales' };

  test('a date "to" freezes through the last second of that local day', () => {
    const c = cal(AMS, [tueThu], [blackFriday]);
    assert.equal(freezeStatus(c, at('2026-11-26T22:59:59Z')).frozen, false); // Thu 23:59:59 local
    const first = freezeStatus(c, at('2026-11-26T23:00:00Z')); // Fri 00:00 local
    assert.equal(first.frozen, true);
    assert.equal(first.freeze?.name, 'black-friday');
    const last = freezeStatus(c, at('2026-11-30T22:59:59Z')); // Mon 23:59:59 local
    assert.equal(last.frozen, true);
    assert.equal(iso(last.until), '2026-11-30T23:00:00.000Z');
    assert.equal(formatLocal(last.until!, AMS), 'Tue 1 Dec 00:00 Europe/Amsterdam');
    assert.deepEqual(freezeStatus(c, at('2026-11-30T23:00:00Z')), { frozen: false, freeze: null, until: null });
  });

  test('a date-time "to" is exclusive', () => {
    const c = cal(AMS, [], [{ name: 'migration', kind: 'once', from: '2026-12-01T18:00', to: '2026-12-02T06:00' }]);
    assert.equal(freezeStatus(c, at('2026-12-01T16:59:59Z')).frozen, false);
    assert.equal(freezeStatus(c, at('2026-12-01T17:00:00Z')).frozen, true);
    assert.equal(freezeStatus(c, at('2026-12-02T04:59:59Z')).frozen, true);
    assert.equal(freezeStatus(c, at('2026-12-02T05:00:00Z')).frozen, false);
  });

  test('a yearly freeze wraps over the new year, whole days inclusive', () => {
    const c = cal(AMS, [], [{ name: 'year-end', kind: 'yearly', from: '12-20', to: '01-02' }]);
    assert.equal(freezeStatus(c, at('2026-12-19T22:59:59Z')).frozen, false);
    const start = freezeStatus(c, at('2026-12-19T23:00:00Z'));
    assert.equal(start.frozen, true);
    assert.equal(iso(start.until), '2027-01-02T23:00:00.000Z');
    const newYear = freezeStatus(c, at('2027-01-01T12:00:00Z'));
    assert.equal(iso(newYear.until), '2027-01-02T23:00:00.000Z');
    assert.equal(freezeStatus(c, at('2027-01-02T22:59:59Z')).frozen, true);
    assert.equal(freezeStatus(c, at('2027-01-02T23:00:00Z')).frozen, false);
    // and again the following December
    assert.equal(freezeStatus(c, at('2027-12-25T12:00:00Z')).frozen, true);
    assert.equal(freezeStatus(c, at('2027-06-01T12:00:00Z')).frozen, false);
  });

  test('a yearly freeze inside one year does not wrap', () => {
    const c = cal(AMS, [], [{ name: 'summer', kind: 'yearly', from: '07-15', to: '08-15' }]);
    assert.equal(freezeStatus(c, at('2027-08-01T12:00:00Z')).frozen, true);
    assert.equal(freezeStatus(c, at('2027-12-01T12:00:00Z')).frozen, false);
    assert.equal(iso(freezeStatus(c, at('2027-08-01T12:00:00Z')).until), '2027-08-15T22:00:00.000Z');
  });

  test('a weekly freeze from Friday 16:00 to Monday 08:00 wraps over the week', () => {
    const c = cal(AMS, [], [{ name: 'weekend', kind: 'weekly', from: 'fri 16:00', to: 'mon 08:00' }]);
    assert.equal(freezeStatus(c, at('2026-11-27T14:59:59Z')).frozen, false); // Fri 15:59:59
    const fri = freezeStatus(c, at('2026-11-27T15:00:00Z'));
    assert.equal(fri.frozen, true);
    assert.equal(iso(fri.until), '2026-11-30T07:00:00.000Z'); // Mon 08:00
    assert.equal(freezeStatus(c, at('2026-11-29T12:00:00Z')).frozen, true); // Sunday
    assert.equal(freezeStatus(c, at('2026-11-30T06:59:59Z')).frozen, true);
    assert.equal(freezeStatus(c, at('2026-11-30T07:00:00Z')).frozen, false);
    assert.equal(freezeStatus(c, at('2026-11-25T12:00:00Z')).frozen, false); // Wednesday
  });

  test('a weekend freeze over the October change ends at Monday 08:00 winter time', () => {
    const c = cal(AMS, [], [{ name: 'weekend', kind: 'weekly', from: 'fri 16:00', to: 'mon 08:00' }]);
    const s = freezeStatus(c, at('2026-10-23T14:00:00Z')); // Fri 16:00 CEST
    assert.equal(s.frozen, true);
    assert.equal(iso(s.until), '2026-10-26T07:00:00.000Z'); // Mon 08:00 CET
  });

  test('public holidays freeze the whole local day: Koningsdag 2027 in the Netherlands', () => {
    const c = cal(AMS, [tueThu], [{ name: 'nl-holidays', kind: 'holidays', country: 'NL' }]);
    assert.equal(freezeStatus(c, at('2027-04-26T21:59:59Z')).frozen, false);
    const s = freezeStatus(c, at('2027-04-27T08:00:00Z')); // Tue 10:00, inside the window
    assert.equal(s.frozen, true);
    assert.equal(s.freeze?.name, 'nl-holidays');
    assert.equal(iso(s.until), '2027-04-27T22:00:00.000Z');
    assert.equal(iso(nextDeployableAt(c, at('2027-04-27T08:00:00Z'))), '2027-04-28T08:00:00.000Z');
  });

  test('observance and optional days do not freeze; public holidays do (US)', () => {
    const c = cal(NYC, [], [{ name: 'us-holidays', kind: 'holidays', country: 'US' }]);
    assert.equal(freezeStatus(c, at('2026-02-14T17:00:00Z')).frozen, false); // Valentine's Day
    assert.equal(freezeStatus(c, at('2026-12-24T17:00:00Z')).frozen, false); // Christmas Eve
    assert.equal(freezeStatus(c, at('2026-11-26T17:00:00Z')).frozen, true); // Thanksgiving
    assert.equal(freezeStatus(c, at('2026-12-25T17:00:00Z')).frozen, true); // Christmas Day
  });

  test('a region adds its own public holidays: Epiphany in Bavaria, not in all of Germany', () => {
    const berlin = 'Europe/Berlin';
    const when = at('2027-01-06T10:00:00Z');
    assert.equal(freezeStatus(cal(berlin, [], [{ name: 'de', kind: 'holidays', country: 'DE' }]), when).frozen, false);
    assert.equal(freezeStatus(cal(berlin, [], [{ name: 'by', kind: 'holidays', country: 'DE', region: 'BY' }]), when).frozen, true);
    assert.equal(freezeStatus(cal(berlin, [], [{ name: 'by', kind: 'holidays', country: 'de', region: 'DE-BY' }]), when).frozen, true);
  });

  test('overlapping and adjoining freezes chain: until is when none applies any more', () => {
    const a: Freeze = { name: 'release-train', kind: 'once', from: '2026-12-01', to: '2026-12-05' };
    const b: Freeze = { name: 'audit', kind: 'once', from: '2026-12-04', to: '2026-12-10' };
    const c: Freeze = { name: 'party', kind: 'yearly', from: '12-11', to: '12-12' };
    const s = freezeStatus(cal(AMS, [], [a, b, c]), at('2026-12-02T12:00:00Z'));
    assert.equal(s.freeze?.name, 'release-train');
    assert.equal(iso(s.until), '2026-12-12T23:00:00.000Z');
    // where two apply, the first listed is named
    assert.equal(freezeStatus(cal(AMS, [], [a, b]), at('2026-12-04T12:00:00Z')).freeze?.name, 'release-train');
    assert.equal(freezeStatus(cal(AMS, [], [b, a]), at('2026-12-04T12:00:00Z')).freeze?.name, 'audit');
  });

  test('a freeze that never ends is frozen with no end time', () => {
    const always: Freeze = { name: 'lockdown', kind: 'weekly', from: 'mon 00:00', to: 'sun 24:00' };
    const s = freezeStatus(cal(AMS, [], [always]), at('2026-11-24T09:00:00Z'));
    assert.equal(s.frozen, true);
    assert.equal(s.until, null);
  });
});

describe('next deployable instant', () => {
  test('now, when a window is open and nothing is frozen', () => {
    const now = at('2026-11-24T10:00:00Z');
    assert.equal(iso(nextDeployableAt(cal(AMS, [tueThu]), now)), now.toISOString());
  });

  test('skips a freeze that covers the next window', () => {
    const c = cal(AMS, [tueThu], [{ name: 'pentest', kind: 'once', from: '2026-11-24', to: '2026-11-24' }]);
    // Monday: Tuesday's window is frozen, so Wednesday 10:00
    assert.equal(iso(nextDeployableAt(c, at('2026-11-23T12:00:00Z'))), '2026-11-25T09:00:00.000Z');
  });

  test('a freeze ending mid-window releases deployments at that instant', () => {
    const c = cal(AMS, [tueThu], [{ name: 'db-upgrade', kind: 'once', from: '2026-11-24', to: '2026-11-25T11:30' }]);
    assert.equal(iso(nextDeployableAt(c, at('2026-11-24T09:00:00Z'))), '2026-11-25T10:30:00.000Z');
  });

  test('black friday: frozen until Tuesday 00:00, next window Tuesday 10:00', () => {
    const c = cal(AMS, [tueThu], [{ name: 'black-friday', kind: 'once', from: '2026-11-27', to: '2026-11-30' }]);
    const next = nextDeployableAt(c, at('2026-11-28T12:00:00Z'));
    assert.equal(iso(next), '2026-12-01T09:00:00.000Z');
    assert.equal(formatLocal(next!, AMS), 'Tue 1 Dec 10:00 Europe/Amsterdam');
  });

  test('a year-end freeze over every window pushes to the first window of January', () => {
    const c = cal(AMS, [tueThu], [{ name: 'year-end', kind: 'yearly', from: '12-20', to: '01-05' }]);
    // Tue 5 Jan 2027 is still frozen; Wed 6 Jan 10:00 is the first chance
    assert.equal(iso(nextDeployableAt(c, at('2026-12-22T09:30:00Z'))), '2027-01-06T09:00:00.000Z');
  });

  test('no windows: the end of the freeze', () => {
    const c = cal(AMS, [], [{ name: 'weekend', kind: 'weekly', from: 'fri 16:00', to: 'mon 08:00' }]);
    assert.equal(iso(nextDeployableAt(c, at('2026-11-28T12:00:00Z'))), '2026-11-30T07:00:00.000Z');
  });

  test('null when nothing is deployable within the horizon', () => {
    const always: Freeze = { name: 'lockdown', kind: 'weekly', from: 'mon 00:00', to: 'sun 24:00' };
    assert.equal(nextDeployableAt(cal(AMS, [tueThu], [always]), at('2026-11-24T09:00:00Z')), null);
    const long: Freeze = { name: 'moratorium', kind: 'once', from: '2026-12-01', to: '2026-12-30' };
    const c = cal(AMS, [], [long]);
    assert.equal(nextDeployableAt(c, at('2026-12-01T12:00:00Z'), 10), null);
    assert.equal(iso(nextDeployableAt(c, at('2026-12-01T12:00:00Z'), 40)), '2026-12-30T23:00:00.000Z');
  });
});

describe('formatLocal', () => {
  test('weekday, date, time and zone', () => {
    assert.equal(formatLocal(at('2026-11-24T09:00:00Z'), AMS), 'Tue 24 Nov 10:00 Europe/Amsterdam');
    assert.equal(formatLocal(at('2026-07-04T03:05:00Z'), NYC), 'Fri 3 Jul 23:05 America/New_York');
  });
});

describe('validators', () => {
  test('timezone', () => {
    assert.equal(validateTimezone('Europe/Amsterdam'), null);
    assert.equal(validateTimezone('UTC'), null);
    assert.match(validateTimezone('Europe/Atlantis')!, /unknown timezone 'Europe\/Atlantis'/);
    assert.match(validateTimezone('')!, /empty/);
  });

  test('HH:MM', () => {
    for (const ok of ['00:00', '09:30', '23:59', '24:00']) assert.equal(validateHHMM(ok), null, ok);
    for (const bad of ['9:30', '24:01', '12:60', '25:00', 'noon', '', '12:3']) {
      assert.match(validateHHMM(bad)!, /not a time of day/, bad);
    }
  });

  test('weekly point', () => {
    for (const ok of ['fri 15:00', 'Mon 08:00', 'sun 24:00']) assert.equal(validateWeeklyPoint(ok), null, ok);
    for (const bad of ['friday 15:00', 'fri', '15:00', 'fri 25:00', 'xyz 10:00']) {
      assert.match(validateWeeklyPoint(bad)!, /not a weekday and time/, bad);
    }
  });

  test('local date or date-time', () => {
    for (const ok of ['2026-11-27', '2026-11-27T18:00', '2028-02-29']) assert.equal(validateLocalDateOrDateTime(ok), null, ok);
    for (const bad of ['2026-13-01', '2027-02-29', '2026-11-27 18:00', '2026-11-27T24:00', '27-11-2026', '2026-11-27T18:00Z']) {
      assert.match(validateLocalDateOrDateTime(bad)!, /not a date or date-time/, bad);
    }
  });

  test('month-day', () => {
    for (const ok of ['12-20', '01-02', '02-29']) assert.equal(validateMonthDay(ok), null, ok);
    for (const bad of ['13-01', '02-30', '04-31', '00-10', '12-00', '1-2', '2026-12-20']) {
      assert.match(validateMonthDay(bad)!, /not a month and day/, bad);
    }
  });

  test('holiday country and region', () => {
    assert.equal(validateHolidayCountry('NL'), null);
    assert.equal(validateHolidayCountry('de', 'BY'), null);
    assert.equal(validateHolidayCountry('US', 'NY'), null);
    assert.match(validateHolidayCountry('XX')!, /unknown holiday country 'XX'/);
    const region = validateHolidayCountry('DE', 'ZZ')!;
    assert.match(region, /unknown region 'ZZ' for DE/);
    assert.match(region, /BY/);
    assert.equal(validateHolidayCountry('DE', 'by'), null);
    assert.equal(validateHolidayCountry('nl'), null);
  });

  test('the countries and regions a config is checked against are the installed date-holidays\' own', () => {
    const committed = fs.readFileSync(path.resolve(import.meta.dirname, '../../src/domain/holiday-regions.ts'), 'utf8');
    assert.equal(committed, holidayRegionsSource(), 'regenerate: node --import tsx scripts/holiday-regions.ts');
  });
});

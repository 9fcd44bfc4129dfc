// Deployment windows and change freezes: whether an instant is inside a window or a freeze,
// when that changes, and the earliest instant a deployment may start. Also the validators the
// config loader uses for calendar fields, and the one format calendar instants are shown in.
//
// Every rule is in the calendar's local wall time (luxon does the zone arithmetic), so a
// 10:00 window stays at 10:00 local across daylight-saving changes. At the DST edges:
// - spring forward: a wall time that does not exist is moved to the first instant that does
//   (the moment the clocks jump), so a window 02:00–03:00 on that day is empty, i.e. closed,
//   and 02:30–04:00 opens at 03:00;
// - fall back: a wall time that happens twice resolves to its *second* occurrence (luxon's
//   choice: the offset after the change). A window 02:00–03:00 on that day is open during the
//   second pass through 02:00–03:00 only, one hour long like every other day.
import { createRequire } from 'node:module';
import type { DateTime } from 'luxon';
import { InputError } from '../errors.js';
import { HOLIDAY_REGIONS } from './holiday-regions.js';
import { type Calendar, type Freeze, WEEKDAYS, type Weekday } from './types.js';

type Luxon = typeof import('luxon');
let luxon: Luxon | null = null;

/** The time-zone library, loaded the first time a calendar is computed (validating a config
 * needs none of it). */
function lx(): Luxon {
  return (luxon ??= createRequire(import.meta.url)('luxon') as Luxon);
}

/** Whether y-m-d is a day of the calendar (Feb 30 is not). */
function isDay(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

type HolidaysClass = typeof import('date-holidays').default;
let holidaysClass: HolidaysClass | null = null;

/** The holiday calendars (a large data set), loaded the first time a holiday is asked about:
 * most commands never need them. */
function Holidays(country?: string, state?: string): InstanceType<HolidaysClass> {
  holidaysClass ??= createRequire(import.meta.url)('date-holidays') as HolidaysClass;
  return country === undefined ? new holidaysClass() : state === undefined ? new holidaysClass(country) : new holidaysClass(country, state);
}

export interface WindowStatus {
  open: boolean;
  /** When the window (and any window adjoining it) closes; null when always open. */
  closesAt: Date | null;
  /** When the next window opens, if closed; null when open or none opens within two weeks. */
  opensAt: Date | null;
}

export interface FreezeStatus {
  frozen: boolean;
  /** The freeze in effect now, the first in list order when several are. */
  freeze: Freeze | null;
  /** When no freeze applies any more (chained over overlapping or adjoining freezes); null if not
   * frozen, or if the chain runs past the horizon. */
  until: Date | null;
}

const DAY_MS = 86_400_000;
/** How far freeze chains are followed before shipgate says "not within a year". */
const DEFAULT_HORIZON_DAYS = 400;
/** Weekly windows recur each week; two weeks covers a week whose only window a DST gap removed. */
const WINDOW_LOOKAHEAD_DAYS = 15;

interface Interval {
  start: number; // epoch ms, inclusive
  end: number; // epoch ms, exclusive
}

// ---- status --------------------------------------------------------------------------------

export function windowStatus(cal: Calendar, now: Date): WindowStatus {
  const memo = memoOf(cal, now.getTime());
  if (!memo.window) {
    const w = computeWindowStatus(cal, now);
    memo.window = { open: w.open, closesAt: w.closesAt?.getTime() ?? null, opensAt: w.opensAt?.getTime() ?? null };
  }
  const w = memo.window;
  return { open: w.open, closesAt: dateOrNull(w.closesAt), opensAt: dateOrNull(w.opensAt) };
}

function computeWindowStatus(cal: Calendar, now: Date): WindowStatus {
  const zone = checkedZone(cal.timezone);
  if (cal.windows.length === 0) return { open: true, closesAt: null, opensAt: null };
  const t = now.getTime();
  const end = coverEnd((x) => windowIntervals(cal, zone, x).filter((i) => contains(i, x)), t, t + DEFAULT_HORIZON_DAYS * DAY_MS);
  if (end !== t) return { open: true, closesAt: end === null ? null : new Date(end), opensAt: null };
  const opens = nextWindowStart(cal, zone, t);
  return { open: false, closesAt: null, opensAt: opens === null ? null : new Date(opens) };
}

export function freezeStatus(cal: Calendar, now: Date): FreezeStatus {
  const memo = memoOf(cal, now.getTime());
  if (!memo.freeze) {
    const f = computeFreezeStatus(cal, now);
    memo.freeze = { frozen: f.frozen, freeze: f.freeze, until: f.until?.getTime() ?? null };
  }
  const f = memo.freeze;
  return { frozen: f.frozen, freeze: f.freeze, until: dateOrNull(f.until) };
}

function computeFreezeStatus(cal: Calendar, now: Date): FreezeStatus {
  const zone = checkedZone(cal.timezone);
  const t = now.getTime();
  const active = cal.freezes.find((f) => freezeIntervals(f, zone, t).some((i) => contains(i, t)));
  if (!active) return { frozen: false, freeze: null, until: null };
  const end = coverEnd((x) => allFreezeIntervals(cal, zone, x), t, t + DEFAULT_HORIZON_DAYS * DAY_MS);
  return { frozen: true, freeze: active, until: end === null ? null : new Date(end) };
}

/** The earliest instant at or after `now` inside a window and outside every freeze. */
export function nextDeployableAt(cal: Calendar, now: Date, horizonDays = DEFAULT_HORIZON_DAYS): Date | null {
  const t = now.getTime();
  const memo = memoOf(cal, t);
  let next = memo.next.get(horizonDays);
  if (next === undefined) {
    const at = computeNextDeployableAt(cal, now, horizonDays);
    // Deployable right now: every instant of this minute is, and answers with itself.
    next = at === null ? null : at.getTime() === t ? 'now' : at.getTime();
    memo.next.set(horizonDays, next);
  }
  return next === 'now' ? new Date(t) : next === null ? null : new Date(next);
}

function computeNextDeployableAt(cal: Calendar, now: Date, horizonDays: number): Date | null {
  const zone = checkedZone(cal.timezone);
  const limit = now.getTime() + horizonDays * DAY_MS;
  let t = now.getTime();
  // Each pass moves t strictly forward (to a freeze's end or a window's start), so this ends;
  // the pass cap only guards against a calendar bug looping on one instant.
  for (let pass = 0; pass < 100_000 && t <= limit; pass++) {
    const thawed = coverEnd((x) => allFreezeIntervals(cal, zone, x), t, limit);
    if (thawed === null) return null;
    if (thawed > t) {
      t = thawed;
      continue;
    }
    if (cal.windows.length === 0 || windowIntervals(cal, zone, t).some((i) => contains(i, t))) return new Date(t);
    const opens = nextWindowStart(cal, zone, t);
    if (opens === null) return null;
    t = opens;
  }
  return null;
}

// ---- answers kept for the minute ---------------------------------------------------------
//
// Every instant where an answer above can change (a window's start or end, a freeze's, a
// holiday's midnight) is a local wall time in whole minutes, so it falls on a whole minute of
// UTC in every zone whose offset is whole minutes (all of them since 1972), and intervals are
// half-open: within one minute each answer is the same, or (nextDeployableAt when deployable
// now) the asked instant itself. The zone arithmetic behind one answer costs milliseconds and
// a gate is evaluated twice per approval, so each calendar keeps its answers for the minute it
// was last asked about. Keyed by the calendar object: a reloaded config brings new ones.

const MINUTE_MS = 60_000;

interface MinuteMemo {
  minute: number;
  window?: { open: boolean; closesAt: number | null; opensAt: number | null };
  freeze?: { frozen: boolean; freeze: Freeze | null; until: number | null };
  /** By horizon in days: the instant, none within it (null), or 'now'. */
  next: Map<number, number | null | 'now'>;
}

const memos = new WeakMap<Calendar, MinuteMemo>();

function memoOf(cal: Calendar, t: number): MinuteMemo {
  const minute = Math.floor(t / MINUTE_MS);
  let memo = memos.get(cal);
  if (!memo || memo.minute !== minute) {
    memo = { minute, next: new Map() };
    memos.set(cal, memo);
  }
  return memo;
}

function dateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}

/** "Tue 24 Nov 10:00 Europe/Amsterdam": weekday and date, because a freeze can span weeks. */
export function formatLocal(d: Date, timezone: string): string {
  // The same few instants (a window's end, the next opening) are shown on every evaluation.
  const key = `${d.getTime()} ${timezone}`;
  let text = formatted.get(key);
  if (text === undefined) {
    if (formatted.size >= FORMATTED_KEPT) formatted.clear();
    text = computeFormatLocal(d, timezone);
    formatted.set(key, text);
  }
  return text;
}

const FORMATTED_KEPT = 1000;
const formatted = new Map<string, string>();

function computeFormatLocal(d: Date, timezone: string): string {
  const local = lx().DateTime.fromJSDate(d, { zone: timezone }).setLocale('en');
  if (!local.isValid) return `${d.toISOString()} UTC`;
  return `${local.toFormat('ccc d LLL HH:mm')} ${timezone}`;
}

// ---- validators: an error message, or null when the value is fine ------------------------------

function isZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function validateTimezone(tz: string): string | null {
  if (typeof tz !== 'string' || tz.trim() === '') return 'timezone is empty; use an IANA zone such as Europe/Amsterdam';
  if (!isZone(tz)) return `unknown timezone '${tz}'; use an IANA zone such as Europe/Amsterdam or UTC`;
  return null;
}

export function validateHHMM(s: string): string | null {
  return parseMinutes(s) === null ? `'${s}' is not a time of day; use HH:MM from 00:00 to 24:00` : null;
}

export function validateWeeklyPoint(s: string): string | null {
  return parseWeeklyPoint(s) === null ? `'${s}' is not a weekday and time; use e.g. "fri 15:00" (mon..sun, HH:MM)` : null;
}

export function validateLocalDateOrDateTime(s: string): string | null {
  return parseLocal(s) === null ? `'${s}' is not a date or date-time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM` : null;
}

export function validateMonthDay(s: string): string | null {
  return parseMonthDay(s) === null ? `'${s}' is not a month and day; use MM-DD, e.g. 12-20` : null;
}

export function validateHolidayCountry(country: string, region?: string): string | null {
  const code = typeof country === 'string' ? country.toUpperCase() : '';
  const regions = Object.hasOwn(HOLIDAY_REGIONS, code) ? HOLIDAY_REGIONS[code] : undefined;
  if (!regions) return `unknown holiday country '${country}'; use an ISO 3166-1 code such as NL, DE or US`;
  if (region === undefined) return null;
  if (!regions.includes(regionCode(code, region))) {
    return `unknown region '${region}' for ${code}${regions.length ? `; known: ${regions.join(', ')}` : '; it has no regions'}`;
  }
  return null;
}

// ---- windows -----------------------------------------------------------------------------

/** Window intervals on the local days around t (the day before, for a window still open from
 * yesterday's 24:00 end, up to the look-ahead). Empty intervals (a DST gap) are dropped. */
function windowIntervals(cal: Calendar, zone: string, t: number, aheadDays = 1): Interval[] {
  const today = lx().DateTime.fromMillis(t, { zone }).startOf('day');
  const out: Interval[] = [];
  for (let k = -1; k <= aheadDays; k++) {
    const day = today.plus({ days: k });
    const weekday = WEEKDAYS[day.weekday - 1];
    for (const w of cal.windows) {
      if (!w.days.includes(weekday)) continue;
      const s = parseMinutes(w.start);
      const e = parseMinutes(w.end);
      if (s === null || e === null) continue;
      const start = localInstant(day, s, zone);
      const end = localInstant(day, e, zone);
      if (end > start) out.push({ start, end });
    }
  }
  return out;
}

function nextWindowStart(cal: Calendar, zone: string, t: number): number | null {
  const starts = windowIntervals(cal, zone, t, WINDOW_LOOKAHEAD_DAYS)
    .map((i) => i.start)
    .filter((s) => s > t);
  return starts.length ? Math.min(...starts) : null;
}

// ---- freezes -----------------------------------------------------------------------------

function allFreezeIntervals(cal: Calendar, zone: string, t: number): Interval[] {
  return cal.freezes.flatMap((f) => freezeIntervals(f, zone, t)).filter((i) => contains(i, t));
}

/** Intervals of one freeze generated around t: enough occurrences that any one containing t is
 * among them. Times that fail to parse contribute nothing (the config loader rejects them). */
function freezeIntervals(f: Freeze, zone: string, t: number): Interval[] {
  const here = lx().DateTime.fromMillis(t, { zone });
  switch (f.kind) {
    case 'once': {
      const from = parseLocal(f.from);
      const to = parseLocal(f.to);
      if (!from || !to) return [];
      const start = localInstant(dayOf(from, zone), from.minutes ?? 0, zone);
      // A bare date "to" means through that whole day; a date-time "to" is the exact end.
      const end = localInstant(dayOf(to, zone), to.minutes ?? 24 * 60, zone);
      return end > start ? [{ start, end }] : [];
    }
    case 'yearly': {
      const from = parseMonthDay(f.from);
      const to = parseMonthDay(f.to);
      if (!from || !to) return [];
      const wraps = from.month * 100 + from.day > to.month * 100 + to.day;
      const out: Interval[] = [];
      for (let y = here.year - 1; y <= here.year + 1; y++) {
        const start = localInstant(monthDay(y, from, zone, 'up'), 0, zone);
        const end = localInstant(monthDay(wraps ? y + 1 : y, to, zone, 'down'), 24 * 60, zone);
        out.push({ start, end });
      }
      return out;
    }
    case 'weekly': {
      const from = parseWeeklyPoint(f.from);
      const to = parseWeeklyPoint(f.to);
      if (!from || !to) return [];
      const a = from.day * 1440 + from.minutes;
      const b = to.day * 1440 + to.minutes;
      if (a === b) return [];
      const monday = here.startOf('day').minus({ days: here.weekday - 1 });
      const out: Interval[] = [];
      for (let week = -1; week <= 1; week++) {
        const base = monday.plus({ weeks: week });
        const start = localInstant(base.plus({ days: from.day }), from.minutes, zone);
        const end = localInstant(base.plus({ days: to.day + (b < a ? 7 : 0) }), to.minutes, zone);
        if (end > start) out.push({ start, end });
      }
      return out;
    }
    case 'holidays': {
      const out: Interval[] = [];
      for (let y = here.year - 1; y <= here.year + 1; y++) {
        for (const date of publicHolidayDates(f.country, f.region, y)) {
          const day = lx().DateTime.fromISO(date, { zone });
          out.push({ start: localInstant(day, 0, zone), end: localInstant(day, 24 * 60, zone) });
        }
      }
      return out;
    }
  }
}

// Only holidays date-holidays types 'public' (days off by law: Koningsdag, Christmas Day,
// Thanksgiving) freeze. 'bank', 'optional', 'school' and 'observance' days (Christmas Eve,
// Valentine's Day, Halloween) are working days for most teams and would freeze far too often.
// A holiday freezes its whole calendar date in the calendar's own timezone, whatever hour the
// holiday package says it starts.
const holidayCache = new Map<string, string[]>();
function publicHolidayDates(country: string, region: string | undefined, year: number): string[] {
  const code = country.toUpperCase();
  const key = `${code}/${region ?? ''}/${year}`;
  let dates = holidayCache.get(key);
  if (!dates) {
    const hd = region ? Holidays(code, regionCode(code, region)) : Holidays(code);
    dates = hd
      .getHolidays(year)
      .filter((h) => h.type === 'public')
      .map((h) => h.date.slice(0, 10));
    holidayCache.set(key, dates);
  }
  return dates;
}

/** Regions are the holiday package's state codes ("BY", "NY"); "DE-BY" is accepted as well. */
function regionCode(country: string, region: string): string {
  const r = region.toUpperCase();
  return r.startsWith(`${country}-`) ? r.slice(country.length + 1) : r;
}

// ---- intervals and local time --------------------------------------------------------------

/** Half-open: an interval holds its start and not its end, so following ends always advances. */
function contains(i: Interval, t: number): boolean {
  return i.start <= t && t < i.end;
}

/** Follows intervals containing t to the instant none does; t itself when none contains t;
 * null when the chain passes the limit (e.g. a freeze on every day). */
function coverEnd(containing: (t: number) => Interval[], t: number, limit: number): number | null {
  let at = t;
  for (;;) {
    const hits = containing(at);
    if (hits.length === 0) return at;
    at = Math.max(...hits.map((i) => i.end));
    if (at > limit) return null;
  }
}

/** The instant of a local wall time `minutes` after the start of `day` (1440 = next midnight).
 * A wall time inside a spring-forward gap moves to the end of the gap (see the top comment). */
function localInstant(day: DateTime, minutes: number, zone: string): number {
  const date = minutes >= 1440 ? day.plus({ days: 1 }) : day;
  const m = minutes >= 1440 ? minutes - 1440 : minutes;
  for (let probe = m; probe < 1440; probe++) {
    const dt = lx().DateTime.fromObject(
      { year: date.year, month: date.month, day: date.day, hour: Math.floor(probe / 60), minute: probe % 60 },
      { zone },
    );
    // luxon shifts a nonexistent time forward by the gap; a round trip tells us it did.
    if (dt.hour * 60 + dt.minute === probe) return dt.toMillis();
  }
  return lx().DateTime.fromObject({ year: date.year, month: date.month, day: date.day }, { zone }).plus({ days: 1 }).toMillis();
}

function dayOf(p: { year: number; month: number; day: number }, zone: string): DateTime {
  return lx().DateTime.fromObject({ year: p.year, month: p.month, day: p.day }, { zone });
}

/** MM-DD in a given year; 02-29 in a common year becomes 03-01 as a start, 02-28 as an end. */
function monthDay(year: number, md: { month: number; day: number }, zone: string, leap: 'up' | 'down'): DateTime {
  const dt = lx().DateTime.fromObject({ year, month: md.month, day: md.day }, { zone });
  if (dt.isValid) return dt;
  return leap === 'up'
    ? lx().DateTime.fromObject({ year, month: md.month + 1, day: 1 }, { zone })
    : lx().DateTime.fromObject({ year, month: md.month, day: 1 }, { zone }).endOf('month').startOf('day');
}

function checkedZone(tz: string): string {
  const problem = validateTimezone(tz);
  if (problem) throw new InputError(`calendar: ${problem}`);
  return tz;
}

// ---- parsing -----------------------------------------------------------------------------

function parseMinutes(s: string): number | null {
  const m = /^(\d{2}):(\d{2})$/.exec(typeof s === 'string' ? s.trim() : '');
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

function parseWeeklyPoint(s: string): { day: number; minutes: number } | null {
  const m = /^([a-z]{3})\s+(\S+)$/i.exec(typeof s === 'string' ? s.trim() : '');
  if (!m) return null;
  const day = WEEKDAYS.indexOf(m[1].toLowerCase() as Weekday);
  const minutes = parseMinutes(m[2]);
  if (day < 0 || minutes === null) return null;
  return { day, minutes };
}

function parseLocal(s: string): { year: number; month: number; day: number; minutes?: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(typeof s === 'string' ? s.trim() : '');
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!isDay(year, month, day)) return null;
  if (m[4] === undefined) return { year, month, day };
  const h = Number(m[4]);
  const min = Number(m[5]);
  if (h > 23 || min > 59) return null;
  return { year, month, day, minutes: h * 60 + min };
}

function parseMonthDay(s: string): { month: number; day: number } | null {
  const m = /^(\d{2})-(\d{2})$/.exec(typeof s === 'string' ? s.trim() : '');
  if (!m) return null;
  const month = Number(m[1]);
  const day = Number(m[2]);
  // 2024 is a leap year, so 02-29 is accepted: it freezes on 02-28/03-01 in common years.
  if (month < 1 || month > 12 || day < 1 || !isDay(2024, month, day)) return null;
  return { month, day };
}

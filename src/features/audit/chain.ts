// The audit hash chain itself, with no database in sight: the canonical encoding of an event,
// its hash, and the verifier that walks a chain and names the first event that was changed,
// deleted, inserted or moved. log.ts feeds it rows from a store.
import crypto from 'node:crypto';

/** The previous hash of event #1. */
export const GENESIS_HASH = '0'.repeat(64);

/** One audit event as shipgate reads it back: `data` is the parsed JSON value. */
export interface AuditEvent {
  seq: number;
  /** ISO-8601 UTC, e.g. 2026-11-22T10:00:00.000Z */
  at: string;
  actor: string;
  action: string;
  subject: string;
  data: unknown;
  prevHash: string;
  hash: string;
}

/** One audit event as stored: `data` is the canonical JSON text the hash was computed over. */
export interface StoredAuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  subject: string;
  data: string;
  prev_hash: string;
  hash: string;
}

export type ProblemKind = 'changed' | 'deleted' | 'inserted' | 'reordered' | 'truncated';

export interface ChainProblem {
  /** The first bad event: the changed, missing, inserted or misplaced one. */
  seq: number;
  kind: ProblemKind;
  /** A sentence for a person, e.g. "event #57 is missing: #56 is followed by #58". */
  message: string;
}

export type VerifyResult =
  | { ok: true; events: number; lastSeq: number; lastHash: string }
  | { ok: false; events: number; problem: ChainProblem };

/** What the chain must end with (the store's audit_head, or a copy kept elsewhere). */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Deterministic JSON: object keys sorted, properties whose value is undefined (or a function)
 * left out, like JSON.stringify otherwise. Two equal values always give the same text,
 * whatever order their keys were written in and whichever database returned them.
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value, new Set());
  return out === undefined ? 'null' : out;
}

function encode(value: unknown, seen: Set<object>): string | undefined {
  if (value === null) return 'null';
  if (value !== undefined && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('audit data cannot hold a bigint: convert it to a string or number first');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  const obj = value as object;
  if (obj === null) return 'null';
  if (seen.has(obj)) throw new TypeError('audit data cannot be circular');
  seen.add(obj);
  let text: string;
  if (Array.isArray(obj)) {
    text = `[${obj.map((v) => encode(v, seen) ?? 'null').join(',')}]`;
  } else {
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const v = encode((obj as Record<string, unknown>)[key], seen);
      if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
    }
    text = `{${parts.join(',')}}`;
  }
  seen.delete(obj);
  return text;
}

// One-shot hashing (Node 20.12+) skips building a Hash object per event: most of the cost of
// hashing a short text. Older Node 20 releases take the longer way to the same digest.
const sha256: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * The hash of an event: sha256 (hex) of the canonical JSON array
 * `[prevHash, seq, at, actor, action, subject, data]`.
 */
export function eventHash(
  prevHash: string,
  e: { seq: number; at: string; actor: string; action: string; subject: string; data: unknown },
): string {
  return sha256(canonicalJson([prevHash, e.seq, e.at, e.actor, e.action, e.subject, e.data]));
}

/**
 * The same hash computed from a stored row, whose data is already canonical JSON text: the
 * array is written around the stored text instead of parsing and re-encoding it. For a row
 * shipgate wrote, this equals eventHash of the parsed event; for a row whose data text was
 * edited, it covers the edited bytes.
 */
export function storedRowHash(prevHash: string, seq: number, r: Omit<StoredAuditRow, 'seq' | 'prev_hash' | 'hash'>): string {
  return sha256(`[${jsonValue(prevHash)},${jsonValue(seq)}${hashedAfterSeq(r)}`);
}

/**
 * The part of the hashed text after the sequence number, `,"<at>",...,<data>]`: what a store
 * that chains events itself (PostgreSQL's shipgate_audit_append) puts after
 * `["<prev_hash>",<seq>` to hash the same text as storedRowHash.
 */
export function hashedAfterSeq(r: Omit<StoredAuditRow, 'seq' | 'prev_hash' | 'hash'>): string {
  return `,${jsonValue(r.at)},${jsonValue(r.actor)},${jsonValue(r.action)},${jsonValue(r.subject)},${r.data}]`;
}

// Characters JSON.stringify writes as an escape: quote, backslash, controls and (when unpaired)
// surrogates. Any surrogate sends the text the long way, which handles pairs too.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * An element of the hashed array exactly as JSON.stringify writes it inside an array, without
 * building the array: shipgate's texts need no escapes, so most are only put in quotes.
 * Anything else (a value a tamperer left in the store) goes through JSON.stringify itself.
 */
function jsonValue(value: unknown): string {
  if (typeof value === 'string') return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? 'null';
}

// ---- verification ---------------------------------------------------------------------------

/** How the verifier reads one kind of row: the hash it records for its predecessor, and its
 * own hash recomputed as if it were numbered `seq`. */
interface Shape<T> {
  prev(row: T): string;
  hashAs(row: T, seq: number): string;
}

interface Numbered {
  seq: number;
  hash: string;
}

const EVENT_SHAPE: Shape<AuditEvent> = {
  prev: (e) => e.prevHash,
  hashAs: (e, seq) => eventHash(e.prevHash, { seq, at: e.at, actor: e.actor, action: e.action, subject: e.subject, data: e.data }),
};

const ROW_SHAPE: Shape<StoredAuditRow> = {
  prev: (r) => r.prev_hash,
  hashAs: (r, seq) => storedRowHash(r.prev_hash, seq, r),
};

export interface VerifyOptions {
  /** The head the chain must end at. Without it a deleted tail cannot be noticed. */
  head?: ChainHead;
  /**
   * Called when the chain runs past `head`, to learn whether events were appended since it
   * was read (the store re-reads its head); without it, events past `head` count as inserted.
   */
  latestHead?: () => Promise<ChainHead | null>;
  /**
   * Where the rows given start: just after this event, already verified (with every event
   * before it). Without it they must start at #1.
   */
  from?: VerifiedEvent;
}

/** An event known to be good, and with it every event before it: where a verifier can go on. */
export interface VerifiedEvent {
  seq: number;
  hash: string;
  prevHash: string;
}

/**
 * Walks a chain in the order given and checks that it starts at #1 from the genesis hash,
 * that each event's number follows the last, that each event records the hash of the one
 * before it, that each event's content matches its hash, and that it ends at the head.
 * Reads the events once, holding only a few at a time.
 */
export function verifyAuditChain(
  events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>,
  head?: ChainHead,
): Promise<VerifyResult> {
  return verifyPages(pagesOf(events), EVENT_SHAPE, { head });
}

/** verifyAuditChain for rows as they are stored (data as JSON text). */
export function verifyStoredRows(
  rows: AsyncIterable<StoredAuditRow> | Iterable<StoredAuditRow>,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  return verifyPages(pagesOf(rows), ROW_SHAPE, opts);
}

/** verifyStoredRows for rows that arrive a page at a time, as the store reads them. */
export function verifyStoredPages(pages: AsyncIterable<StoredAuditRow[]>, opts: VerifyOptions = {}): Promise<VerifyResult> {
  return verifyPages(pages, ROW_SHAPE, opts);
}

const PAGE = 1024;

// The verifier works through pages so that a million events do not cost a million awaits.
async function* pagesOf<T>(source: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T[]> {
  if (Array.isArray(source)) {
    yield source;
    return;
  }
  let page: T[] = [];
  for await (const item of source) {
    page.push(item);
    if (page.length >= PAGE) {
      yield page;
      page = [];
    }
  }
  if (page.length) yield page;
}

/** The rows after position `i` of `page`, then the rest of the pages, one at a time. */
async function* rowsAfter<T>(page: T[], i: number, pages: AsyncIterator<T[]>): AsyncGenerator<T> {
  for (let j = i; j < page.length; j++) yield page[j];
  for (;;) {
    const next = await pages.next();
    if (next.done) return;
    yield* next.value;
  }
}

async function verifyPages<T extends Numbered>(
  source: AsyncIterable<T[]>,
  shape: Shape<T>,
  opts: VerifyOptions,
): Promise<VerifyResult> {
  const pages = source[Symbol.asyncIterator]();
  let expectSeq = (opts.from?.seq ?? 0) + 1;
  let lastHash = opts.from?.hash ?? GENESIS_HASH;
  // The previous hash of the last good event: lets an inserted event be told from a changed one.
  let beforeLast: string | null = opts.from?.prevHash ?? null;
  let count = expectSeq - 1;
  const head = opts.head;
  for (;;) {
    const next = await pages.next();
    if (next.done) break;
    const page = next.value;
    for (let i = 0; i < page.length; i++) {
      const row = page[i];
      if (row.seq === expectSeq && shape.prev(row) === lastHash && shape.hashAs(row, row.seq) === row.hash) {
        if (head && row.seq === head.seq && row.hash !== head.hash) {
          return fail(count, row.seq, 'changed', `event #${row.seq} does not match the head: the head records hash ${short(head.hash)}, the event has ${short(row.hash)}, so events up to #${row.seq} were rewritten with recomputed hashes, or the head was altered`);
        }
        count++;
        beforeLast = lastHash;
        lastHash = row.hash;
        expectSeq++;
        continue;
      }
      const position = { k: expectSeq, last: lastHash, beforeLast, head };
      const problem = await diagnose(row, position, rowsAfter(page, i + 1, pages), shape);
      return { ok: false, events: count, problem };
    }
  }

  const lastSeq = expectSeq - 1;
  if (head) {
    if (lastSeq < head.seq) {
      const message =
        lastSeq === 0
          ? `the log is empty but the head records #${head.seq}: every event was deleted`
          : `the log ends at #${lastSeq} but the head records #${head.seq}: events were deleted from the end`;
      return fail(count, lastSeq + 1, 'truncated', message);
    }
    if (lastSeq > head.seq) {
      // Past the head read at the start: fine if those events were appended meanwhile.
      const latest = opts.latestHead ? await opts.latestHead() : head;
      if (!latest || lastSeq > latest.seq) {
        const recorded = latest?.seq ?? head.seq;
        return fail(count, recorded + 1, 'inserted', `event #${recorded + 1} was inserted after the end of the log: the head records #${recorded} as the last event`);
      }
      if (lastSeq === latest.seq && lastHash !== latest.hash) {
        return fail(count, lastSeq, 'changed', `event #${lastSeq} does not match the head: the head records hash ${short(latest.hash)}, the event has ${short(lastHash)}`);
      }
    }
  }
  return { ok: true, events: count, lastSeq, lastHash };
}

// ---- ranges ---------------------------------------------------------------------------------

/**
 * What checking one range of stored rows found. `ok` means the rows are exactly the events
 * numbered from `firstSeq` to `lastSeq`, each recording the hash of the one before it and each
 * matching its own hash; whether the range follows the one before it (`firstPrevHash`) and
 * ends at the head (`last`) is for the caller to join.
 */
export type RangeCheck =
  | { ok: true; firstSeq: number; lastSeq: number; firstPrevHash: string; last: VerifiedEvent }
  | { ok: false; firstSeq: number };

/**
 * A stored row as a range check reads it: one string, the 64 characters of the hash the row
 * records followed by the exact text that hash covers, `[prevHash,seq,...,data]`, as the
 * database wrote it (range-rows.ts); null when it would not. One string per row, as the
 * database hands it over: a million rows cost a million strings, not eight million.
 */
export type HashedRow = string | null;

// Where the parts sit in a hashed row: the recorded hash, then `["`, the previous hash, `",`.
const TEXT_AT = 64;
const PREV_AT = TEXT_AT + 2;
const SEQ_AT = PREV_AT + 66;
// The start of a row whose previous hash is one shipgate could have written: 64 hex digits.
const HEX_PREV = /^.{64}\["[0-9a-f]{64}",/s;

/**
 * Checks rows that should be the events numbered `firstSeq` to `lastSeq`, in order (given a
 * page at a time), with the tests verifyStoredRows makes inside a chain: each row's number is
 * the next one, it records the hash of the row before, and its text hashes to the hash it
 * records. Ranges checked apart (in worker threads) and joined end to start accept exactly the
 * chains that one walk accepts, or fewer: a row this refuses only sends the walk back to the
 * start of its range.
 *
 * Each row's previous hash is read from its text: the first row's must be 64 hex digits (every
 * hash and the genesis hash are); each later row's must be the hash of the row before, matched
 * just before against its digest, followed by the closing quote.
 */
export function checkRange(pages: Iterable<HashedRow[]>, firstSeq: number, lastSeq: number): RangeCheck {
  const refused: RangeCheck = { ok: false, firstSeq };
  let expectSeq = firstSeq;
  let firstPrevHash: string | null = null;
  let lastHash: string | null = null;
  let beforeLast = '';
  for (const page of pages) {
    for (let i = 0; i < page.length; i++) {
      const row = page[i];
      if (typeof row !== 'string' || expectSeq > lastSeq) return refused;
      if (lastHash === null) {
        if (!HEX_PREV.test(row)) return refused;
        firstPrevHash = row.slice(PREV_AT, PREV_AT + 64);
        beforeLast = firstPrevHash;
      } else {
        if (row.slice(PREV_AT, PREV_AT + 64) !== lastHash || row.charCodeAt(PREV_AT + 64) !== QUOTE) return refused;
        beforeLast = lastHash;
      }
      if (numberAt(row, SEQ_AT) !== expectSeq) return refused;
      const hash = sha256(row.slice(TEXT_AT));
      if (row.slice(0, TEXT_AT) !== hash) return refused;
      lastHash = hash;
      expectSeq++;
    }
  }
  if (lastHash === null || firstPrevHash === null || expectSeq - 1 !== lastSeq) return refused;
  return { ok: true, firstSeq, lastSeq, firstPrevHash, last: { seq: lastSeq, hash: lastHash, prevHash: beforeLast } };
}

const QUOTE = 34;
const COMMA = 44;

/**
 * The whole number written at `at` and followed by a comma (-1 if none). SQLite writes the
 * integer key without sign, leading zeros or exponent, so the digits that give a number are the
 * digits JSON writes for it.
 */
function numberAt(row: string, at: number): number {
  let n = 0;
  let i = at;
  for (let c = row.charCodeAt(i); c >= 48 && c <= 57; c = row.charCodeAt(++i)) n = n * 10 + (c - 48);
  return i > at && i - at <= 15 && row.charCodeAt(i) === COMMA ? n : -1;
}

interface Position {
  /** The number the bad row should have had. */
  k: number;
  /** Hash of event #k-1, the last good one (genesis for #1). */
  last: string;
  /** Previous hash of event #k-1 (null when k = 1). */
  beforeLast: string | null;
  head?: ChainHead;
}

/**
 * Names the first bad event. Each kind of tampering leaves its own marks, even when the
 * tamperer recomputed the hash of the rows they touched:
 * - changed: the row at #k still links to #k-1 but its content no longer matches its hash;
 *   or (rehashed) it matches, but #k+1 recorded a different hash for it.
 * - deleted: a number is skipped; or, when later rows were renumbered to close the gap, no
 *   row records #k-1's hash any more, and the row now at #k hashes correctly as #k+d.
 * - inserted: the row after the intruder records the hash of the row before it.
 * - reordered: the row that records #k-1's hash (the real #k) sits further on.
 */
async function diagnose<T extends Numbered>(
  r: T,
  p: Position,
  it: AsyncIterator<T>,
  shape: Shape<T>,
): Promise<ChainProblem> {
  const hashAs = shape.hashAs;
  const prevOf = shape.prev;
  const { k, last, beforeLast } = p;
  const after = k === 1 ? 'the start of the log' : `#${k - 1}`;

  if (r.seq < k) {
    if (r.seq === k - 1) {
      return { seq: r.seq, kind: 'inserted', message: `event #${r.seq} was inserted: the log holds two events numbered #${r.seq}` };
    }
    return { seq: k, kind: 'reordered', message: `events around #${k} are out of order: #${k - 1} is followed by #${r.seq}` };
  }

  if (r.seq > k) {
    // A gap. The real #k may have been moved to a higher number rather than deleted.
    if (prevOf(r) === last && hashAs(r, k) === r.hash) {
      return { seq: k, kind: 'reordered', message: `events around #${k} are out of order: event #${k} was renumbered #${r.seq}` };
    }
    const moved = await findSuccessor(it, last, prevOf);
    if (moved) {
      // In a file, lines keep their numbers when moved; in the store, moving means renumbering.
      const where = moved.seq === k ? `${after} is followed by #${r.seq}` : `the event that was #${k} now sits at #${moved.seq}`;
      return { seq: k, kind: 'reordered', message: `events around #${k} are out of order: ${where}` };
    }
    if (k === 1) {
      const which = r.seq === 2 ? 'event #1 is' : `events #1 to #${r.seq - 1} are`;
      return { seq: 1, kind: 'deleted', message: `${which} missing: the log starts at #${r.seq}` };
    }
    const which = r.seq === k + 1 ? `event #${k} is` : `events #${k} to #${r.seq - 1} are`;
    return { seq: k, kind: 'deleted', message: `${which} missing: #${k - 1} is followed by #${r.seq}` };
  }

  const contentOk = hashAs(r, r.seq) === r.hash;
  const linkOk = prevOf(r) === last;
  const nextResult = await it.next();
  const next = nextResult.done ? null : nextResult.value;

  if (!linkOk && beforeLast !== null && prevOf(r) === beforeLast) {
    // The row now at #k records the hash of #k-2: what sits at #k-1 was slipped in.
    const twoBack = k === 2 ? 'the start of the log' : `#${k - 2}`;
    return {
      seq: k - 1,
      kind: 'inserted',
      message: `event #${k - 1} was inserted: the event now numbered #${k} records the hash of ${twoBack}, so it followed ${twoBack} before #${k - 1} was added`,
    };
  }
  if (next && prevOf(next) === last) {
    if (!linkOk && prevOf(r) === next.hash) {
      return { seq: k, kind: 'reordered', message: `events around #${k} are out of order: #${k} and #${k + 1} were swapped` };
    }
    return {
      seq: k,
      kind: 'inserted',
      message: `event #${k} was inserted: the event after it records the hash of ${after}, so it followed ${after} before #${k} was added`,
    };
  }

  if (linkOk && !contentOk) {
    return { seq: k, kind: 'changed', message: `event #${k} was changed: its content no longer matches its hash` };
  }

  if (!linkOk && contentOk) {
    // Consistent in itself but not with #k-1. Usually #k-1 was edited and its hash recomputed:
    // #k still records the old hash. If #k's own hash is not what #k+1 (or the head) recorded,
    // #k itself was rewritten.
    const ownHashIntact = next ? prevOf(next) === r.hash : !p.head || p.head.seq !== k || p.head.hash === r.hash;
    if (k > 1 && ownHashIntact) {
      return {
        seq: k - 1,
        kind: 'changed',
        message: `event #${k - 1} was changed: its hash was recomputed, but event #${k} recorded a different hash for it`,
      };
    }
    return {
      seq: k,
      kind: 'changed',
      message: `event #${k} was changed: its hash was recomputed, but it no longer follows ${after}`,
    };
  }

  // Neither linked nor consistent: the row was moved here, or renumbered after a deletion.
  const rest = prepend(next, it);
  const moved = await findSuccessor(rest, last, prevOf);
  if (moved) {
    const swapped = hashAs(r, moved.seq) === r.hash;
    return {
      seq: k,
      kind: 'reordered',
      message: swapped
        ? `events around #${k} are out of order: #${k} and #${moved.seq} were swapped`
        : `events around #${k} are out of order: the event that was #${k} now sits at #${moved.seq}`,
    };
  }
  const was = originalSeq(r, k, hashAs);
  if (was !== null && was > k) {
    const which = was === k + 1 ? `event #${k} is` : `events #${k} to #${was - 1} are`;
    return {
      seq: k,
      kind: 'deleted',
      message: `${which} missing: the events after it were renumbered to close the gap (the event now numbered #${k} was #${was})`,
    };
  }
  return {
    seq: k,
    kind: 'changed',
    message: `event #${k} was changed: its content no longer matches its hash, and it no longer follows ${after}`,
  };
}

/** Tries the numbers near `seq` under which the row's content matches its hash. */
function originalSeq<T extends Numbered>(r: T, seq: number, hashAs: Shape<T>['hashAs']): number | null {
  for (let d = 1; d <= 64; d++) {
    if (hashAs(r, seq + d) === r.hash) return seq + d;
    if (seq - d >= 1 && hashAs(r, seq - d) === r.hash) return seq - d;
  }
  return null;
}

/** The first remaining row that records `hash` as its previous hash. */
async function findSuccessor<T>(it: AsyncIterator<T>, hash: string, prevOf: (row: T) => string): Promise<T | null> {
  for (;;) {
    const n = await it.next();
    if (n.done) return null;
    if (prevOf(n.value) === hash) return n.value;
  }
}

function prepend<T>(first: T | null, it: AsyncIterator<T>): AsyncIterator<T> {
  let pending = first;
  return {
    next() {
      if (pending !== null) {
        const value = pending;
        pending = null;
        return Promise.resolve({ done: false, value });
      }
      return it.next();
    },
  };
}

function fail(events: number, seq: number, kind: ProblemKind, message: string): VerifyResult {
  return { ok: false, events, problem: { seq, kind, message } };
}

function short(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

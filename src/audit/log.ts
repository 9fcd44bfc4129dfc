// The audit log in the store: appending events inside the caller's transaction, reading and
// streaming them back, verifying the stored chain against its head, and exporting JSON lines.
// The hashing and the verifier live in ./chain.ts.
import type { Kysely } from 'kysely';
import { InputError, StoreError } from '../errors.js';
import type { Database, Dialect } from '../store/db.js';
import type { DB } from '../store/schema.js';
import {
  type AuditEvent,
  type ChainHead,
  type StoredAuditRow,
  type VerifyResult,
  canonicalJson,
  storedRowHash,
  verifyStoredPages,
} from './chain.js';

export {
  type AuditEvent,
  type ChainHead,
  type ChainProblem,
  type ProblemKind,
  type StoredAuditRow,
  type VerifyResult,
  GENESIS_HASH,
  canonicalJson,
  eventHash,
  storedRowHash,
  verifyAuditChain,
  verifyStoredPages,
  verifyStoredRows,
} from './chain.js';

export interface AuditInput {
  /** Who did it: a user name, or the controller's own name. */
  actor: string;
  /** What was done, e.g. `deployment.requested`, `approval.approved`. */
  action: string;
  /** What it was done to, e.g. `deployment:42`, `release:web@1.4.2`. */
  subject: string;
  /** Anything JSON can hold; stored as canonical JSON. Defaults to {}. */
  data?: unknown;
  at: Date | string;
}

/**
 * Appends one event. Call it inside the transaction that makes the change it records
 * (`inTransaction`), so the change and its event commit or roll back together.
 */
export async function appendAuditEvent(trx: Kysely<DB>, dialect: Dialect, input: AuditInput): Promise<AuditEvent> {
  const [event] = await appendAuditEvents(trx, dialect, [input]);
  return event;
}

// Rows per insert statement: 8 values a row stays under SQLite's and PostgreSQL's limits.
const INSERT_CHUNK = 500;

/** Appends several events in order, in the caller's transaction. */
export async function appendAuditEvents(trx: Kysely<DB>, dialect: Dialect, inputs: AuditInput[]): Promise<AuditEvent[]> {
  if (inputs.length === 0) return [];
  const prepared = inputs.map(prepare);
  // The head row is the lock appends queue on: on SQLite the caller's BEGIN IMMEDIATE already
  // holds the write lock; on PostgreSQL FOR UPDATE makes the next appender wait for our commit.
  let query = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
  if (dialect === 'postgres') query = query.forUpdate();
  const head = await query.executeTakeFirst();
  if (!head) throw new StoreError('the audit head row is missing: the store was not set up by shipgate, or it was tampered with');

  let seq = Number(head.seq);
  let prevHash = head.hash;
  const rows: StoredAuditRow[] = [];
  const events: AuditEvent[] = [];
  for (const p of prepared) {
    seq += 1;
    const hash = storedRowHash(prevHash, seq, p);
    rows.push({ seq, at: p.at, actor: p.actor, action: p.action, subject: p.subject, data: p.data, prev_hash: prevHash, hash });
    events.push({ seq, at: p.at, actor: p.actor, action: p.action, subject: p.subject, data: p.value, prevHash, hash });
    prevHash = hash;
  }
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await trx.insertInto('audit_events').values(rows.slice(i, i + INSERT_CHUNK)).execute();
  }
  // Guarded by the old values: if anything else moved the head, fail rather than fork the chain.
  const updated = await trx
    .updateTable('audit_head')
    .set({ seq, hash: prevHash })
    .where('id', '=', 1)
    .where('seq', '=', head.seq)
    .where('hash', '=', head.hash)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) {
    throw new StoreError('the audit head moved during an append: audit events must be appended inside inTransaction');
  }
  return events;
}

interface PreparedInput {
  at: string;
  actor: string;
  action: string;
  subject: string;
  data: string;
  value: unknown;
}

function prepare(input: AuditInput): PreparedInput {
  const at = isoTime(input.at);
  const actor = storableText(input.actor, 'actor');
  const action = storableText(input.action, 'action');
  const subject = storableText(input.subject, 'subject');
  const data = canonicalJson(input.data === undefined ? {} : input.data);
  // Keep what the event returns identical to what a later read gives back.
  return { at, actor, action, subject, data, value: JSON.parse(data) };
}

function isoTime(at: Date | string): string {
  const d = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(d.getTime())) throw new InputError(`audit event time is not a valid time: ${String(at)}`, { field: 'at' });
  return d.toISOString();
}

// Text the hash covers must come back from both databases exactly as written: PostgreSQL
// refuses NUL and replaces unpaired surrogates, so such text is turned away here.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storableText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InputError(`audit event ${field} must be a non-empty string`, { field });
  }
  if (UNSTORABLE.test(value)) {
    throw new InputError(`audit event ${field} contains a NUL or an unpaired surrogate character`, { field });
  }
  return value;
}

// ---- reading -----------------------------------------------------------------------------------

export interface AuditQuery {
  /** Only events after this sequence number. */
  afterSeq?: number;
  /** At most this many (default 100). */
  limit?: number;
  /** Only events about this subject, e.g. `deployment:42`. */
  subject?: string;
}

/** Events in sequence order, a page at a time. */
export async function readAuditEvents(db: Kysely<DB>, q: AuditQuery = {}): Promise<AuditEvent[]> {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new InputError(`limit must be a positive whole number (got ${limit})`, { field: 'limit' });
  let query = db.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').limit(limit);
  if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
  if (q.subject !== undefined) query = query.where('subject', '=', q.subject);
  const rows = await query.execute();
  return rows.map(toEvent);
}

/** Every stored row in sequence order, a page of `batchSize` at a time (keyset pagination). */
export async function* streamAuditPages(db: Kysely<DB>, batchSize = 5000): AsyncGenerator<StoredAuditRow[]> {
  let after: number | null = null;
  for (;;) {
    let query = db.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').limit(batchSize);
    if (after !== null) query = query.where('seq', '>', after);
    const rows = await query.execute();
    if (rows.length) yield rows;
    if (rows.length < batchSize) return;
    after = rows[rows.length - 1].seq;
  }
}

/** Every event in sequence order, without holding the whole log in memory. */
export async function* streamAuditEvents(db: Kysely<DB>, batchSize = 5000): AsyncGenerator<AuditEvent> {
  for await (const page of streamAuditPages(db, batchSize)) yield* page.map(toEvent);
}

export async function readAuditHead(db: Kysely<DB>): Promise<ChainHead | null> {
  const head = await db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  return head ? { seq: Number(head.seq), hash: head.hash } : null;
}

function toEvent(row: StoredAuditRow): AuditEvent {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    data: parseData(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

// Stored data was written as canonical JSON; if someone edited it into something that is not
// JSON, hand the text back as it is (its hash no longer matches, and verify says so).
function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// ---- verifying and exporting ------------------------------------------------------------------

/**
 * Verifies the whole stored chain against the store's head. Appends that land while it runs
 * are fine: the head is read first, and read again if the log has grown past it.
 */
export async function verifyStoredChain(database: Database, batchSize = 5000): Promise<VerifyResult> {
  const head = await readAuditHead(database.db);
  if (!head) {
    return {
      ok: false,
      events: 0,
      problem: { seq: 0, kind: 'deleted', message: 'the audit head (the record of the last event) is missing: it was deleted' },
    };
  }
  return verifyStoredPages(streamAuditPages(database.db, batchSize), {
    head,
    latestHead: () => readAuditHead(database.db),
  });
}

/** Something lines can be written to: a stream, or an object with a write function. */
export interface LineSink {
  write(chunk: string): unknown;
  once?(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes every event as one JSON object per line, in sequence order. Returns the count and
 * the last event's number and hash: the value to keep somewhere else as an anchor.
 */
export async function exportAuditJsonl(
  database: Database,
  out: LineSink,
  batchSize = 5000,
): Promise<{ events: number; lastSeq: number; lastHash: string | null }> {
  let events = 0;
  let lastSeq = 0;
  let lastHash: string | null = null;
  let chunk = '';
  const flush = async () => {
    if (!chunk) return;
    const text = chunk;
    chunk = '';
    const more = out.write(text);
    if (more === false && typeof out.once === 'function') await new Promise<void>((resolve) => out.once!('drain', resolve));
  };
  for await (const e of streamAuditEvents(database.db, batchSize)) {
    chunk += `${JSON.stringify(e)}\n`;
    events++;
    lastSeq = e.seq;
    lastHash = e.hash;
    if (chunk.length >= 64 * 1024) await flush();
  }
  await flush();
  return { events, lastSeq, lastHash };
}

/** Parses exported JSON lines back into events (blank lines are skipped). */
export function parseAuditJsonl(text: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch (err) {
      throw new InputError(`line ${i + 1} of the audit export is not JSON: ${(err as Error).message}`);
    }
    events.push(e);
  }
  return events;
}

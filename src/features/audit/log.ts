// The audit log over any audit store: what an event may hold, how appended events are chained
// to the head, verifying a stored chain against its head, and JSON-lines export and import.
// The hashing and the verifier live in chain.ts, verifying in worker threads in range-verify.ts;
// the stores in sql-store.ts and memory-store.ts.
import { InputError } from '../../errors.js';
import {
  type AuditEvent,
  type ChainHead,
  type StoredAuditRow,
  type VerifiedEvent,
  type VerifyResult,
  canonicalJson,
  storedRowHash,
  verifyStoredPages,
} from './chain.js';
import { type RangeOptions, type RangeReport, verifyRanges } from './range-verify.js';
import type { AuditStore } from './store.js';

export interface AuditInput {
  /** Who did it: a user name, or the controller's own name. */
  actor: string;
  /** What was done, e.g. `deployment.requested`, `approval.approved` (see catalogue.ts). */
  action: string;
  /** What it was done to, e.g. `deployment:42`, `release:web@1.4.2`. */
  subject: string;
  /** Anything JSON can hold; stored as canonical JSON. Defaults to {}. */
  data?: unknown;
  at: Date | string;
}

/** The rows and events of `inputs` appended after `head`: what a store writes, and the new head. */
export function chainAfter(head: ChainHead, inputs: AuditInput[]): { rows: StoredAuditRow[]; events: AuditEvent[]; head: ChainHead } {
  return chainPrepared(head, prepareInputs(inputs));
}

/** An event's fields as stored and hashed: checked, times in ISO form, data as canonical JSON. */
export type PreparedInput = ReturnType<typeof prepare>;

/** `inputs` checked and put in stored form, for chainPrepared (refuses what cannot be stored). */
export function prepareInputs(inputs: AuditInput[]): PreparedInput[] {
  return inputs.map(prepare);
}

/** chainAfter for inputs prepareInputs has already put in stored form. */
export function chainPrepared(head: ChainHead, prepared: PreparedInput[]): { rows: StoredAuditRow[]; events: AuditEvent[]; head: ChainHead } {
  let seq = head.seq;
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
  return { rows, events, head: { seq, hash: prevHash } };
}

function prepare(input: AuditInput) {
  const at = isoTime(input.at);
  const actor = storableText(input.actor, 'actor');
  const action = storableText(input.action, 'action');
  const subject = storableText(input.subject, 'subject');
  const data = canonicalJson(input.data === undefined ? {} : input.data);
  // Keep what the event returns identical to what a later read gives back.
  return { at, actor, action, subject, data, value: JSON.parse(data) as unknown };
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

export function toEvent(row: StoredAuditRow): AuditEvent {
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

export interface VerifyChainOptions extends RangeOptions {
  /**
   * Logs with at least this many events (default 20,000), on a store whose rows worker threads
   * can read (a SQLite file), are checked in ranges on worker threads first. 0 workers: never.
   */
  minEvents?: number;
  /** Told what the worker threads found, when they ran. */
  onRanges?: (report: RangeReport) => void;
}

/**
 * Verifies the whole stored chain against the store's head. Appends that land while it runs
 * are fine: the head is read first, and read again if the log has grown past it.
 *
 * A long log on SQLite is first checked in ranges on worker threads (range-verify.ts); this
 * thread then reads on from the last event they found good: nothing past the head when the
 * chain is intact, else from the range where it breaks, so the problem is named exactly as
 * one walk from #1 names it.
 */
export async function verifyChain(store: AuditStore, batchSize = 5000, opts: VerifyChainOptions = {}): Promise<VerifyResult> {
  const head = await store.head();
  if (!head) {
    return { ok: false, events: 0, problem: { seq: 0, kind: 'deleted', message: 'the audit head (the record of the last event) is missing: it was deleted' } };
  }
  const from = (await goodInRanges(store, head, opts)) ?? undefined;
  return verifyStoredPages(store.pages(batchSize, from?.seq), { head, latestHead: () => store.head(), from });
}

async function goodInRanges(store: AuditStore, head: ChainHead, opts: VerifyChainOptions): Promise<VerifiedEvent | null> {
  if (opts.workers === 0 || head.seq < (opts.minEvents ?? 20_000) || head.seq === 0 || !store.rangeSource) return null;
  const source = await store.rangeSource();
  if (!source) return null;
  try {
    const { goodThrough, report } = await verifyRanges(source.sqliteFile, head, opts);
    opts.onRanges?.(report);
    return goodThrough;
  } catch {
    // Workers that cannot start or read are a lost speed-up, not a verdict: walk it here.
    return null;
  }
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
export async function exportJsonl(store: AuditStore, out: LineSink, batchSize = 5000): Promise<{ events: number; lastSeq: number; lastHash: string | null }> {
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
  for await (const page of store.pages(batchSize)) {
    for (const row of page) {
      const e = toEvent(row);
      chunk += `${JSON.stringify(e)}\n`;
      events++;
      lastSeq = e.seq;
      lastHash = e.hash;
      if (chunk.length >= 64 * 1024) await flush();
    }
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
    try {
      events.push(JSON.parse(line) as AuditEvent);
    } catch (err) {
      throw new InputError(`line ${i + 1} of the audit export is not JSON: ${(err as Error).message}`);
    }
  }
  return events;
}

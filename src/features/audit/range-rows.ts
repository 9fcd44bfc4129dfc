// How a verify worker reads a range of the audit log from a SQLite file: SQLite itself writes
// each row's hashed text (the JSON array its hash covers) behind the hash the row records, so a
// row crosses into JavaScript as one string instead of eight, and chain.ts's checkRange only
// hashes and compares.
import type { Database } from 'better-sqlite3';
import type { HashedRow } from './chain.js';

/**
 * One row as checkRange reads it: the recorded hash, then the text storedRowHash hashes,
 * `[prevHash,seq,at,actor,action,subject,data]`. json_quote escapes text exactly as
 * JSON.stringify does (quote, backslash, \b \t \n \f \r, other control characters as \u00xx
 * in lower-case hex, nothing else); seq is the integer key; data goes in as stored.
 *
 * A row gives null (checkRange refuses it, and the one-thread walk judges it) when a column
 * holds a blob, which a tamperer may leave: the walk reads a blob as a Buffer, while json_quote
 * would read a JSONB blob as the JSON it holds. `x < x''` is the cheap test for "not a blob"
 * (and not null): in SQLite every text sorts before every blob. With TEXT columns (see
 * schemaProblem) nothing else can be stored: numbers are stored as text. The recorded hash
 * must be 64 characters, so that where it ends and the text begins is never in doubt.
 */
const HASHED_ROW = `case when hash < x'' and length(hash) = 64 and prev_hash < x'' and at < x'' and actor < x''
    and action < x'' and subject < x'' and data < x''
  then concat(hash, '[', json_quote(prev_hash), ',', seq, ',', json_quote(at), ',', json_quote(actor), ',',
    json_quote(action), ',', json_quote(subject), ',', data, ']') end`;

// Rows read per statement: enough that statements cost little, few enough that a page's rows
// die young (pages of 10,000 kept the collector busier: about a fifth more CPU per event).
const PAGE = 2_000;

/** The columns and their declared types that HASHED_ROW relies on. */
const EXPECTED: Record<string, string> = {
  seq: 'integer',
  at: 'text',
  actor: 'text',
  action: 'text',
  subject: 'text',
  data: 'text',
  prev_hash: 'text',
  hash: 'text',
};

/**
 * Why the table is not the one HASHED_ROW was written for (null when it is): seq must be the
 * integer key (the rowid: always an integer, each number once), the other columns TEXT.
 * Someone who rebuilt the table otherwise gets the one-thread walk.
 */
export function schemaProblem(db: Database): string | null {
  const columns = db.prepare('select name, lower(type) as type, pk from pragma_table_info(?)').all('audit_events') as {
    name: string;
    type: string;
    pk: number;
  }[];
  for (const [name, type] of Object.entries(EXPECTED)) {
    const column = columns.find((c) => c.name === name);
    if (!column || column.type !== type) return `audit_events.${name} is not a ${type} column`;
  }
  if (columns.some((c) => c.pk > 0 && c.name !== 'seq') || !columns.some((c) => c.name === 'seq' && c.pk === 1)) {
    return 'audit_events.seq is not the primary key';
  }
  // INTEGER PRIMARY KEY DESC, or a table WITHOUT ROWID, keeps the key in an index of its own:
  // then seq is not the rowid.
  const keyIndex = db.prepare("select 1 from pragma_index_list(?) where origin = 'pk'").get('audit_events');
  if (keyIndex) return 'audit_events.seq is not the rowid';
  return null;
}

/** Reads the rows numbered firstSeq to lastSeq (and any stray row among them) in order, a page at a time. */
export function rangeReader(db: Database): (firstSeq: number, lastSeq: number) => Generator<HashedRow[]> {
  const select = `select ${HASHED_ROW} from audit_events where`;
  // The first range has no lower bound, so that a row numbered 0 or below is read (and refused).
  const fromStart = db.prepare(`${select} seq <= ? order by seq limit ?`).pluck(true);
  const after = db.prepare(`${select} seq > ? and seq <= ? order by seq limit ?`).pluck(true);
  return function* pages(firstSeq, lastSeq) {
    // Each page starts after the last row read: checkRange refuses a row numbered otherwise
    // than the one before plus one, so while it reads on, that row was firstSeq - 1 + count.
    let read = 0;
    for (;;) {
      const page = (firstSeq === 1 && read === 0 ? fromStart.all(lastSeq, PAGE) : after.all(firstSeq - 1 + read, lastSeq, PAGE)) as HashedRow[];
      yield page;
      read += page.length;
      if (page.length < PAGE) return;
    }
  };
}

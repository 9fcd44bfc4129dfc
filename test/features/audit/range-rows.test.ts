// What a verify worker reads from a SQLite file: SQLite writes each row's hashed text itself, and
// that text must be, byte for byte, the text the one-thread walk hashes, whatever a column holds
// (quotes, control characters, any Unicode, bytes that are not UTF-8); a column the walk reads
// otherwise (a blob, a JSONB blob, a hash of another length) must give no text at all, so that
// ranges never accept a row the walk refuses. Then the same tampering seen through verify: the
// answer with worker threads is the one-thread answer.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { GENESIS_HASH, type HashedRow, checkRange, storedRowHash } from '../../../src/features/audit/chain.js';
import type { AuditInput } from '../../../src/features/audit/log.js';
import { rangeReader, schemaProblem } from '../../../src/features/audit/range-rows.js';
import type { RangeReport } from '../../../src/features/audit/range-verify.js';
import { appendAuditEvents, verifyStoredChain } from '../../../src/features/audit/sql-store.js';
import { type Database, inTransaction, openDatabase } from '../../../src/store/db.js';
import { freshStoreLocation } from '../../support/databases.js';

type Fields = [prevHash: unknown, seq: unknown, at: unknown, actor: unknown, action: unknown, subject: unknown, data: unknown];
type Written = [prevHash: string, at: string, actor: string, action: string, subject: string, data: string];

/** The text the walk hashes for a row as better-sqlite3 reads it back: JSON.stringify around the stored data. */
function walkText([prevHash, seq, at, actor, action, subject, data]: Fields): string {
  return `${JSON.stringify([prevHash, seq, at, actor, action, subject]).slice(0, -1)},${String(data)}]`;
}

const opened: { close(): unknown }[] = [];
after(async () => {
  for (const d of opened) await d.close();
});

/** An empty SQLite store made by shipgate, opened a second time directly, as a worker opens it. */
async function rawStore(): Promise<SQLite.Database> {
  const { sqlitePath } = await freshStoreLocation('sqlite');
  await (await openDatabase({ sqlitePath })).close();
  const db = new SQLite(sqlitePath!);
  opened.push(db);
  return db;
}

const readAll = (db: SQLite.Database, first: number, last: number) => [...rangeReader(db)(first, last)].flat();

/** Writes rows #1, #2, ... as given, each with the hash the walk computes for it, and reads them back both ways. */
function writeAndRead(db: SQLite.Database, rows: Written[]) {
  const insert = db.prepare('insert into audit_events (seq, prev_hash, at, actor, action, subject, data, hash) values (?, ?, ?, ?, ?, ?, ?, ?)');
  rows.forEach(([prevHash, at, actor, action, subject, data], i) => {
    insert.run(i + 1, prevHash, at, actor, action, subject, data, storedRowHash(prevHash, i + 1, { at, actor, action, subject, data }));
  });
  const stored = db.prepare('select prev_hash, seq, at, actor, action, subject, data from audit_events order by seq').raw(true).all() as Fields[];
  const hashes = db.prepare('select hash from audit_events order by seq').pluck(true).all() as string[];
  return { read: readAll(db, 1, rows.length), stored, hashes };
}

const AT = '2026-11-20T09:00:00.000Z';

describe('the hashed text SQLite writes for a verify worker', () => {
  const controls = Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)).join('');
  const awkward = ['plain', '', 'quote " here', 'back\\slash', 'line\nbreak\ttab', controls, '\u007f del', 'façade ✓', '😀 pair', 'sep \u2028\u2029', "it's", 'x'.repeat(5000)];

  test('is the text the walk hashes, for every awkward value in every column', async () => {
    const db = await rawStore();
    const rows: Written[] = [];
    for (const v of awkward) {
      rows.push([GENESIS_HASH, v, v, v, v, '{}']);
      rows.push([v, AT, 'alice', 'deployment.state', 'deployment:1', String.raw`{"note":"é \\ \" ✓","v":1}`]);
      rows.push(['a'.repeat(64), AT, 'alice', 'x', 'y', v]);
    }
    const { read, stored, hashes } = writeAndRead(db, rows);
    assert.equal(read.length, rows.length);
    read.forEach((row, i) => {
      assert.equal(row, `${hashes[i]}${walkText(stored[i])}`, `row #${i + 1}: ${JSON.stringify(stored[i]).slice(0, 80)}`);
    });
  });

  test('bytes that are not UTF-8 read back as the walk reads them, field by field', async () => {
    const db = await rawStore();
    writeAndRead(db, [[GENESIS_HASH, AT, 'b', 'c', 'd', '{}']]);
    // A stray continuation byte, a sequence cut short, an encoded surrogate, an overlong slash, a cut emoji.
    const bytes = ["x'61ff62'", "x'e282'", "x'eda080'", "x'c0af'", "x'f09f98'"];
    for (const [i, b] of bytes.entries()) {
      const column = ['at', 'actor', 'action', 'subject', 'data'][i];
      db.exec(`update audit_events set ${column} = cast(${b} as text) where seq = 1`);
      const stored = db.prepare('select prev_hash, seq, at, actor, action, subject, data, hash from audit_events').raw(true).get() as unknown[];
      assert.deepEqual(readAll(db, 1, 1), [`${stored[7]}${walkText(stored.slice(0, 7) as Fields)}`], `${column} = ${b}`);
    }
  });

  test('a column the walk would read as something else than text gives no text at all', async () => {
    const db = await rawStore();
    const good = writeAndRead(db, [[GENESIS_HASH, AT, 'alice', 'deployment.state', 'deployment:1', '{}']]);
    assert.equal(typeof good.read[0], 'string');
    const changes = [
      ...['prev_hash', 'at', 'actor', 'action', 'subject', 'data', 'hash'].map((c) => `${c} = cast(${c} as blob)`),
      // json_quote would write a JSONB blob as the JSON it holds: "alice", as before.
      `actor = jsonb('"alice"')`,
      `hash = hash || 'x'`,
      `hash = substr(hash, 2)`,
    ];
    for (const change of changes) {
      db.exec('savepoint s');
      db.exec(`update audit_events set ${change} where seq = 1`);
      assert.deepEqual(readAll(db, 1, 1), [null], change);
      db.exec('rollback to s; release s');
    }
  });

  test('checkRange accepts an intact range, with its first previous hash and its last event, and nothing else', async () => {
    const db = await rawStore();
    const { read, hashes } = writeAndRead(db, [
      [GENESIS_HASH, AT, 'alice', 'x', 'y', '{}'],
      [GENESIS_HASH, AT, 'alice', 'x', 'y', '{}'],
    ]);
    const rows: HashedRow[] = read;
    assert.deepEqual(checkRange([rows.slice(0, 1)], 1, 1), {
      ok: true,
      firstSeq: 1,
      lastSeq: 1,
      firstPrevHash: GENESIS_HASH,
      last: { seq: 1, hash: hashes[0], prevHash: GENESIS_HASH },
    });
    assert.equal(checkRange([rows], 1, 2).ok, false, '#2 records the genesis hash, not the hash of #1');
    assert.equal(checkRange([rows.slice(1)], 1, 1).ok, false, '#2 read where #1 should be');
    assert.equal(checkRange([rows.slice(0, 1)], 1, 2).ok, false, 'a range that ends early');
    assert.equal(checkRange([[]], 3, 4).ok, false, 'an empty range');
    assert.equal(checkRange([[null]], 1, 1).ok, false, 'a row SQLite gave no text for');
  });
});

describe('ranges on worker threads judge every tampered column as the walk does', () => {
  const T0 = Date.parse('2026-11-20T09:00:00Z');
  const inputs = (n: number): AuditInput[] =>
    Array.from({ length: n }, (_, i) => ({
      actor: i % 2 ? 'alice' : 'shipgate',
      action: 'deployment.state',
      subject: `deployment:${i + 1}`,
      data: { step: i + 1, note: 'quote " and ✓ and \\' },
      at: new Date(T0 + i * 1000),
    }));

  const files = new Map<Database, string>();
  async function sqliteWith(n: number) {
    const { sqlitePath } = await freshStoreLocation('sqlite');
    const database = await openDatabase({ sqlitePath });
    opened.push(database);
    files.set(database, sqlitePath!);
    await inTransaction(database, (trx) => appendAuditEvents(trx, database.dialect, inputs(n)));
    return database;
  }

  /** Verifies with workers over ranges of 4 and with none: the same answer; returns it and how far the ranges got. */
  async function bothWays(database: Database) {
    let report: RangeReport | undefined;
    const inRanges = await verifyStoredChain(database, 5000, { workers: 2, rangeSize: 4, minEvents: 1, onRanges: (r) => (report = r) });
    const oneThread = await verifyStoredChain(database, 5000, { workers: 0 });
    assert.deepEqual(inRanges, oneThread);
    return { result: inRanges, goodThrough: report?.goodThrough };
  }

  /** What someone with the database file can do: any assignment to event #seq's columns. */
  async function tamper(database: Database, seq: number, assignment: string) {
    await sql.raw(`update audit_events set ${assignment} where seq = ${seq}`).execute(database.db);
  }

  const event = (database: Database, seq: number) => database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();

  /** Rewrites the events after #seq so that each records the hash of the one before, up to the head. */
  async function rechainAfter(database: Database, seq: number, hash: string) {
    let prev = hash;
    for (let s = seq + 1; s <= 12; s++) {
      const h = storedRowHash(prev, s, await event(database, s));
      await tamper(database, s, `prev_hash = '${prev}', hash = '${h}'`);
      prev = h;
    }
    await sql`update audit_head set hash = ${prev}`.execute(database.db);
  }

  test('an intact log of 12 events: the ranges reach the head', async () => {
    const database = await sqliteWith(12);
    const { result, goodThrough } = await bothWays(database);
    assert.equal(result.ok, true);
    assert.equal(goodThrough, 12);
  });

  // The walk reads a blob in data as the text its bytes spell: intact to it.
  for (const [what, assignment, intact] of [
    ['the actor stored as a blob of the same bytes', 'actor = cast(actor as blob)', false],
    ['the actor stored as a JSONB blob of the same string', 'actor = jsonb(json_quote(actor))', false],
    ['the data stored as a blob of the same bytes', 'data = cast(data as blob)', true],
    ['the hash stored with one character more', "hash = hash || '0'", false],
    ['the subject holding a byte that is not UTF-8', "subject = cast(x'64ff' as text)", false],
  ] as const) {
    test(`event #6 with ${what}: the walk's verdict (${intact ? 'intact' : 'changed'}); when changed, the ranges stop before it`, async () => {
      const database = await sqliteWith(12);
      await tamper(database, 6, assignment);
      const { result, goodThrough } = await bothWays(database);
      assert.equal(result.ok, intact);
      if (!result.ok) {
        assert.equal(result.problem.seq, 6);
        assert.equal(goodThrough, 4, 'the range holding #6 is refused');
      }
    });
  }

  test('an actor rewritten with a byte that is not UTF-8, hashed over the raw bytes: refused both ways', async () => {
    const database = await sqliteWith(12);
    const r = await event(database, 6);
    // The hash of the bytes as stored (0xff inside the actor), not of the text the walk decodes (U+FFFD).
    const [before, rest] = walkText([r.prev_hash, 6, r.at, 'ACTOR', r.action, r.subject, r.data]).split('ACTOR');
    const forged = createHash('sha256')
      .update(Buffer.concat([Buffer.from(before), Buffer.from([0x78, 0xff]), Buffer.from(rest)]))
      .digest('hex');
    await tamper(database, 6, `actor = cast(x'78ff' as text), hash = '${forged}'`);
    await rechainAfter(database, 6, forged);
    const { result, goodThrough } = await bothWays(database);
    assert.equal(!result.ok && result.problem.seq, 6);
    assert.equal(goodThrough, 4);
  });

  test('an actor rewritten with a byte that is not UTF-8, hashed as the walk reads it, the chain rewritten to the head: accepted both ways', async () => {
    const database = await sqliteWith(12);
    await tamper(database, 6, "actor = cast(x'78ff' as text)");
    const r = await event(database, 6);
    assert.equal(r.actor, 'x\ufffd');
    const hash = storedRowHash(r.prev_hash, 6, r);
    await tamper(database, 6, `hash = '${hash}'`);
    // A forgery up to the head is what verify alone cannot see (docs/audit.md, "Limits").
    await rechainAfter(database, 6, hash);
    const { result, goodThrough } = await bothWays(database);
    assert.equal(result.ok, true);
    assert.equal(goodThrough, 12);
  });

  test('a recorded hash longer than 64 characters, hiding text in front of the row: refused both ways', async () => {
    const database = await sqliteWith(12);
    const r = await event(database, 6);
    // Were the first 64 characters taken for the hash and the rest for the text, the digest of
    // (hidden + text) would match them.
    const hidden = `["${r.prev_hash}",6,"a","b","c","d",`;
    const digest = createHash('sha256')
      .update(hidden + walkText([r.prev_hash, 6, r.at, r.actor, r.action, r.subject, r.data]))
      .digest('hex');
    await tamper(database, 6, `hash = '${digest}${hidden}'`);
    await rechainAfter(database, 6, digest);
    const { result, goodThrough } = await bothWays(database);
    assert.equal(!result.ok && result.problem.seq, 6);
    assert.equal(goodThrough, 4);
  });

  test('a table rebuilt so that seq is not the rowid: the workers decline, one thread verifies', async () => {
    const database = await sqliteWith(12);
    for (const statement of [
      `create table rebuilt (seq integer primary key desc, at text not null, actor text not null, action text not null,
         subject text not null, data text not null, prev_hash text not null, hash text not null)`,
      'insert into rebuilt select seq, at, actor, action, subject, data, prev_hash, hash from audit_events',
      'drop table audit_events',
      'alter table rebuilt rename to audit_events',
    ]) {
      await sql.raw(statement).execute(database.db);
    }
    const direct = new SQLite(files.get(database)!, { readonly: true });
    opened.push(direct);
    assert.equal(schemaProblem(direct), 'audit_events.seq is not the rowid');
    const { result, goodThrough } = await bothWays(database);
    assert.equal(result.ok, true);
    assert.equal(goodThrough, undefined, 'the ranges did not run');
  });
});

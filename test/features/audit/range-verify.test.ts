// Verifying a long audit log in ranges on worker threads: ranges are checked apart and joined
// end to start, so a break exactly at a range boundary is still found, and the answer is always
// the one a single walk from #1 gives. Also: the service verifies a 20,000-event log the same on
// every store, and workers that cannot start leave the verdict to one thread.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { type StoredAuditRow, storedRowHash } from '../../../src/features/audit/chain.js';
import { type AuditInput, verifyChain } from '../../../src/features/audit/log.js';
import { type RangeReport, verifyRanges } from '../../../src/features/audit/range-verify.js';
import { AuditService } from '../../../src/features/audit/service.js';
import { SqlAuditStore, appendAuditEvents, readAuditHead, verifyStoredChain } from '../../../src/features/audit/sql-store.js';
import type { AuditStore } from '../../../src/features/audit/store.js';
import { inMemoryStore, sqlStoreOn } from '../../../src/main.js';
import { type Database, inTransaction } from '../../../src/store/db.js';
import { table } from '../../../src/store/memory.js';
import { STORE_KINDS, freshDatabase } from '../../support/databases.js';

const T0 = Date.parse('2026-11-20T09:00:00Z');

function inputs(n: number, from = 1): AuditInput[] {
  return Array.from({ length: n }, (_, i) => ({
    actor: i % 2 ? 'alice' : 'shipgate',
    action: 'deployment.state',
    subject: `deployment:${Math.ceil((from + i) / 4)}`,
    data: { to: 'rolling_out', step: from + i, note: 'quote " and ✓' },
    at: new Date(T0 + (from + i) * 1000),
  }));
}

const opened: Database[] = [];
after(async () => {
  for (const d of opened) await d.close();
});

async function sqliteWith(n: number): Promise<Database> {
  const database = await freshDatabase('sqlite');
  opened.push(database);
  await inTransaction(database, (trx) => appendAuditEvents(trx, database.dialect, inputs(n)));
  return database;
}

/** Verifies in ranges of 10 on two workers; returns the answer, what the ranges found, and the one-thread answer. */
async function inRangesOf10(database: Database) {
  let report: RangeReport | undefined;
  const result = await verifyStoredChain(database, 5000, { workers: 2, rangeSize: 10, minEvents: 1, onRanges: (r) => (report = r) });
  const oneThread = await verifyStoredChain(database, 5000, { workers: 0 });
  assert.ok(report, 'the worker threads ran');
  return { result, report, oneThread };
}

async function row(database: Database, seq: number): Promise<StoredAuditRow> {
  return database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

async function rehash(database: Database, seq: number, actor: string) {
  const r = await row(database, seq);
  await sql`update audit_events set actor = ${actor}, hash = ${storedRowHash(r.prev_hash, seq, { ...r, actor })} where seq = ${seq}`.execute(database.db);
}

describe('verifying in ranges on worker threads (SQLite)', () => {
  test('an intact log of 40 events: four ranges join up to the head', async () => {
    const database = await sqliteWith(40);
    const head = (await readAuditHead(database.db))!;
    const { result, report, oneThread } = await inRangesOf10(database);
    assert.deepEqual(report, { workers: 2, ranges: 4, goodThrough: 40 });
    assert.deepEqual(result, { ok: true, events: 40, lastSeq: 40, lastHash: head.hash });
    assert.deepEqual(result, oneThread);
  });

  test('the last event of a range changed and rehashed: only the join with the next range shows it', async () => {
    const database = await sqliteWith(40);
    await rehash(database, 20, 'mallory');
    const { result, report, oneThread } = await inRangesOf10(database);
    assert.equal(report.goodThrough, 20, 'ranges 11-20 hold together on their own; range 21-30 does not follow them');
    assert.deepEqual(result, {
      ok: false,
      events: 20,
      problem: { seq: 20, kind: 'changed', message: 'event #20 was changed: its hash was recomputed, but event #21 recorded a different hash for it' },
    });
    assert.deepEqual(result, oneThread);
  });

  test('the first event of a range changed in place', async () => {
    const database = await sqliteWith(40);
    await sql`update audit_events set actor = 'mallory' where seq = 21`.execute(database.db);
    const { result, report, oneThread } = await inRangesOf10(database);
    assert.equal(report.goodThrough, 20);
    assert.deepEqual(result, { ok: false, events: 20, problem: { seq: 21, kind: 'changed', message: 'event #21 was changed: its content no longer matches its hash' } });
    assert.deepEqual(result, oneThread);
  });

  test('the last event of the first range deleted', async () => {
    const database = await sqliteWith(40);
    await sql`delete from audit_events where seq = 10`.execute(database.db);
    const { result, report, oneThread } = await inRangesOf10(database);
    assert.equal(report.goodThrough, 0);
    assert.deepEqual(result, { ok: false, events: 9, problem: { seq: 10, kind: 'deleted', message: 'event #10 is missing: #9 is followed by #11' } });
    assert.deepEqual(result, oneThread);
  });

  test('a row numbered 0 slipped in before #1 is read by the first range and refused', async () => {
    const database = await sqliteWith(40);
    const first = await row(database, 1);
    await database.db.insertInto('audit_events').values({ ...first, seq: 0 }).execute();
    const { result, report, oneThread } = await inRangesOf10(database);
    assert.equal(report.goodThrough, 0);
    assert.equal(result.ok, false);
    assert.deepEqual(result, oneThread);
  });

  test('the head\'s event changed and rehashed: the last range no longer ends at the head', async () => {
    const database = await sqliteWith(40);
    await rehash(database, 40, 'mallory');
    const { result, report, oneThread } = await inRangesOf10(database);
    assert.equal(report.goodThrough, 30);
    assert.equal(!result.ok && result.problem.seq, 40);
    assert.match(!result.ok ? result.problem.message : '', /^event #40 does not match the head/);
    assert.deepEqual(result, oneThread);
  });

  test('workers that cannot read the log leave the verdict to one thread', async () => {
    const database = await sqliteWith(30);
    const head = (await readAuditHead(database.db))!;
    await assert.rejects(verifyRanges('/nonexistent/shipgate.db', head, { workers: 1, rangeSize: 10 }), /unable to open|directory does not exist|exist/i);
    // A store that names a file the workers cannot open: verify still answers, from one thread.
    const real = new SqlAuditStore(database.db, 'sqlite');
    const broken: AuditStore = {
      append: (i) => real.append(i),
      read: (q) => real.read(q),
      pages: (b, a) => real.pages(b, a),
      head: () => real.head(),
      rangeSource: async () => ({ sqliteFile: '/nonexistent/shipgate.db' }),
    };
    let ran = false;
    const result = await verifyChain(broken, 5000, { minEvents: 1, onRanges: () => (ran = true) });
    assert.equal(ran, false);
    assert.deepEqual(result, { ok: true, events: 30, lastSeq: 30, lastHash: head.hash });
  });
});

// A log long enough for the default options to use workers where the store allows.
const LONG = 20_000;
const TAMPERED = 12_345;

for (const kind of [...STORE_KINDS, 'memory' as const]) {
  test(`the service verifies a ${LONG.toLocaleString('en-US')}-event log on ${kind} as one thread does, and names a change at #${TAMPERED}`, async () => {
    let tamper: () => Promise<void>;
    let audit: AuditStore;
    let service: AuditService;
    if (kind === 'memory') {
      const tables = {};
      const store = inMemoryStore(tables);
      await store.transaction((tx) => tx.audit.append(inputs(LONG)));
      audit = store.audit;
      service = new AuditService(store);
      tamper = async () => {
        table<StoredAuditRow>(tables, 'audit_events')[TAMPERED - 1].actor = 'mallory';
      };
    } else {
      const database = await freshDatabase(kind);
      opened.push(database);
      const store = sqlStoreOn(database);
      await store.transaction((tx) => tx.audit.append(inputs(LONG)));
      audit = store.audit;
      service = new AuditService(store);
      tamper = async () => {
        await sql`update audit_events set actor = 'mallory' where seq = ${TAMPERED}`.execute(database.db);
      };
    }
    let report: RangeReport | undefined;
    const intact = await verifyChain(audit, 5000, { onRanges: (r) => (report = r) });
    assert.equal(report?.goodThrough, kind === 'sqlite' ? LONG : undefined, 'workers run on a SQLite file by default at this length, and only there');
    assert.deepEqual(intact, { ok: true, events: LONG, lastSeq: LONG, lastHash: (await service.head()).hash });
    assert.deepEqual(await service.verify(), intact);
    const tail: number[] = [];
    for await (const page of audit.pages(4, LONG - 10)) tail.push(...page.map((r) => Number(r.seq)));
    assert.deepEqual(tail, Array.from({ length: 10 }, (_, i) => LONG - 9 + i), 'pages after a number start just past it');

    await tamper();
    const broken = await service.verify();
    assert.deepEqual(broken, {
      ok: false,
      events: TAMPERED - 1,
      problem: { seq: TAMPERED, kind: 'changed', message: `event #${TAMPERED} was changed: its content no longer matches its hash` },
    });
    assert.deepEqual(await verifyChain(audit, 5000, { workers: 0 }), broken);
  });
}

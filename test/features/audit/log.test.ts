// The audit log on real stores: events commit with the change they record, concurrent writers
// get one gapless chain, and `verify` names the first bad event for each kind of tampering.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { type AuditEvent, GENESIS_HASH, type VerifyResult, storedRowHash, verifyAuditChain } from '../../../src/features/audit/chain.js';
import type { RangeReport } from '../../../src/features/audit/range-verify.js';
import { parseAuditJsonl } from '../../../src/features/audit/log.js';
import {
  appendAuditEvent,
  appendAuditEvents,
  exportAuditJsonl,
  readAuditEvents,
  readAuditHead,
  streamAuditEvents,
  verifyStoredChain,
} from '../../../src/features/audit/sql-store.js';
import { type Database, inTransaction } from '../../../src/store/db.js';
import { STORE_KINDS, freshDatabase, tempDir } from '../../support/databases.js';

const T0 = Date.parse('2026-11-20T09:00:00Z');

/** A store holding `n` events, appended one transaction each, as shipgate's operations do. */
async function storeWith(kind: (typeof STORE_KINDS)[number], n: number): Promise<Database> {
  const database = await freshDatabase(kind);
  for (let i = 1; i <= n; i++) {
    await inTransaction(database, (trx) =>
      appendAuditEvent(trx, database.dialect, {
        actor: i % 2 ? 'alice' : 'bob',
        action: i % 3 ? 'approval.approved' : 'deployment.state',
        subject: `deployment:${Math.ceil(i / 3)}`,
        data: { to: 'approved', step: i, note: 'façade ✓', nested: { b: [1, 2], a: null } },
        at: new Date(T0 + i * 60_000),
      }),
    );
  }
  return database;
}

async function row(database: Database, seq: number) {
  return database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}

/** Renumbers every event from `from` on by `by`, the way a tamperer would (two steps, since seq is unique). */
async function renumberFrom(database: Database, from: number, by: number) {
  await sql`update audit_events set seq = -seq where seq >= ${from}`.execute(database.db);
  await sql`update audit_events set seq = -seq + ${by} where seq < 0`.execute(database.db);
}

async function swap(database: Database, a: number, b: number) {
  await sql`update audit_events set seq = -1 where seq = ${a}`.execute(database.db);
  await sql`update audit_events set seq = ${a} where seq = ${b}`.execute(database.db);
  await sql`update audit_events set seq = ${b} where seq = -1`.execute(database.db);
}

/**
 * Verifies in one thread and, where worker threads can read the store (SQLite), also in ranges
 * on two workers, cut every event and every 4 events so that each tampered event sits at a
 * range boundary at least once: every way must give the same answer.
 */
async function verifyEveryWay(database: Database, batchSize = 5000): Promise<VerifyResult> {
  const one = await verifyStoredChain(database, batchSize, { workers: 0 });
  if (database.dialect === 'sqlite') {
    for (const rangeSize of [1, 4]) {
      let report: RangeReport | undefined;
      const inRanges = await verifyStoredChain(database, batchSize, { workers: 2, rangeSize, minEvents: 1, onRanges: (r) => (report = r) });
      const head = await readAuditHead(database.db);
      if (head && head.seq > 0) assert.ok(report, 'the worker threads ran');
      assert.deepEqual(inRanges, one, `in ranges of ${rangeSize} the answer is the same as in one thread`);
    }
  }
  return one;
}

async function problemOf(database: Database) {
  const result = await verifyEveryWay(database);
  assert.equal(result.ok, false, 'verify must notice the tampering');
  if (result.ok) throw new Error('unreachable');
  return result;
}

for (const kind of STORE_KINDS) {
  describe(`audit log on ${kind}`, () => {
    const opened: Database[] = [];
    const open = async (n: number) => {
      const d = await storeWith(kind, n);
      opened.push(d);
      return d;
    };
    after(async () => {
      for (const d of opened) await d.close();
    });

    test('appended events form a chain from the genesis hash that verifies, and read back as written', async () => {
      const database = await open(0);
      const written = await inTransaction(database, (trx) =>
        appendAuditEvents(trx, database.dialect, [
          { actor: 'carol', action: 'release.registered', subject: 'release:web@1.4.2', data: { z: 1, a: { y: 'ü', x: [3, 'two'] } }, at: '2026-11-20T09:00:00Z' },
          { actor: 'carol', action: 'deployment.requested', subject: 'deployment:1', at: new Date(T0 + 1000) },
        ]),
      );
      const single = await inTransaction(database, (trx) =>
        appendAuditEvent(trx, database.dialect, { actor: 'alice', action: 'approval.approved', subject: 'deployment:1', data: { role: 'devops-lead' }, at: new Date(T0 + 2000) }),
      );
      assert.deepEqual([...written, single].map((e) => e.seq), [1, 2, 3]);
      assert.equal(written[0].prevHash, GENESIS_HASH);
      assert.equal(written[1].prevHash, written[0].hash);
      assert.equal(single.prevHash, written[1].hash);
      assert.equal(written[0].at, '2026-11-20T09:00:00.000Z', 'times are stored as ISO-8601 UTC');
      assert.deepEqual(written[1].data, {}, 'an event without data records {}');

      const read = await readAuditEvents(database.db, { limit: 10 });
      assert.deepEqual(read, [...written, single], 'what is read back equals what append returned');
      assert.deepEqual(await readAuditEvents(database.db, { afterSeq: 1, subject: 'deployment:1' }), [written[1], single]);
      assert.deepEqual(await readAuditHead(database.db), { seq: 3, hash: single.hash });

      const result = await verifyEveryWay(database);
      assert.deepEqual(result, { ok: true, events: 3, lastSeq: 3, lastHash: single.hash });
    });

    test('an empty log verifies', async () => {
      const database = await open(0);
      assert.deepEqual(await verifyEveryWay(database), { ok: true, events: 0, lastSeq: 0, lastHash: GENESIS_HASH });
    });

    test('a rolled-back transaction leaves no event and the head unchanged', async () => {
      const database = await open(3);
      const before = await readAuditHead(database.db);
      await assert.rejects(
        inTransaction(database, async (trx) => {
          await appendAuditEvent(trx, database.dialect, { actor: 'alice', action: 'approval.approved', subject: 'deployment:9', at: new Date(T0) });
          throw new Error('the state change failed after its event was appended');
        }),
        /the state change failed/,
      );
      assert.deepEqual(await readAuditHead(database.db), before);
      assert.equal((await readAuditEvents(database.db, { limit: 100 })).length, 3);
      const after = await inTransaction(database, (trx) =>
        appendAuditEvent(trx, database.dialect, { actor: 'alice', action: 'approval.approved', subject: 'deployment:9', at: new Date(T0) }),
      );
      assert.equal(after.seq, 4, 'the next event takes the number the rolled-back one would have had');
      assert.equal((await verifyStoredChain(database)).ok, true);
    });

    test('50 concurrent writers produce one gapless chain that verifies', async () => {
      const database = await open(0);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          inTransaction(database, async (trx) => {
            // A read before the append, as a real state change does, widens the race window.
            await trx.selectFrom('deployments').select('id').execute();
            return appendAuditEvent(trx, database.dialect, { actor: `user-${i}`, action: 'approval.approved', subject: `deployment:${i}`, data: { i }, at: new Date(T0 + i) });
          }),
        ),
      );
      assert.deepEqual(results.map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
      const events: AuditEvent[] = [];
      for await (const e of streamAuditEvents(database.db, 7)) events.push(e);
      assert.deepEqual(new Set(events.map((e) => e.actor)).size, 50, 'every writer\'s event is in the log once');
      const result = await verifyEveryWay(database, 7);
      assert.equal(result.ok, true);
      assert.equal(result.ok && result.lastSeq, 50);
    });

    test('events appended while verify runs do not make it report tampering', async () => {
      const database = await open(20);
      const appends = Array.from({ length: 20 }, (_, i) =>
        inTransaction(database, (trx) =>
          appendAuditEvent(trx, database.dialect, { actor: 'bob', action: 'deployment.state', subject: 'deployment:7', data: { i }, at: new Date(T0 + i) }),
        ),
      );
      const [result, inRanges] = await Promise.all([
        verifyStoredChain(database, 2),
        verifyStoredChain(database, 2, { workers: 2, rangeSize: 3, minEvents: 1 }),
        ...appends,
      ]);
      for (const r of [result, inRanges]) {
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.ok(r.ok && r.lastSeq >= 20);
      }
      assert.deepEqual(await verifyStoredChain(database), { ok: true, events: 40, lastSeq: 40, lastHash: (await readAuditHead(database.db))!.hash });
    });

    test('bad input is refused with the field named, and nothing is written', async () => {
      const database = await open(1);
      await assert.rejects(
        inTransaction(database, (trx) => appendAuditEvent(trx, database.dialect, { actor: '', action: 'x', subject: 'y', at: new Date(T0) })),
        /actor must be a non-empty string/,
      );
      await assert.rejects(
        inTransaction(database, (trx) => appendAuditEvent(trx, database.dialect, { actor: 'a', action: 'x', subject: 'y', at: 'yesterday' })),
        /not a valid time: yesterday/,
      );
      await assert.rejects(
        inTransaction(database, (trx) => appendAuditEvent(trx, database.dialect, { actor: 'a\u0000b', action: 'x', subject: 'y', at: new Date(T0) })),
        /actor contains a NUL/,
      );
      assert.deepEqual((await verifyStoredChain(database)).ok && (await readAuditHead(database.db))?.seq, 1);
    });

    describe('verify names the first bad event', () => {
      test('a field changed in place', async () => {
        const database = await open(10);
        await sql`update audit_events set actor = 'mallory' where seq = 4`.execute(database.db);
        const { problem, events } = await problemOf(database);
        assert.deepEqual(problem, { seq: 4, kind: 'changed', message: 'event #4 was changed: its content no longer matches its hash' });
        assert.equal(events, 3, 'the three events before it were checked and good');
      });

      test('the data changed in place', async () => {
        const database = await open(10);
        await sql`update audit_events set data = ${'{"note":"façade ✓","step":6,"to":"rejected"}'} where seq = 6`.execute(database.db);
        const { problem } = await problemOf(database);
        assert.equal(problem.seq, 6);
        assert.equal(problem.kind, 'changed');
      });

      test('a field changed and that row\'s hash recomputed', async () => {
        const database = await open(10);
        const r = await row(database, 4);
        const forged = { ...r, actor: 'mallory' };
        await sql`update audit_events set actor = 'mallory', hash = ${storedRowHash(r.prev_hash, 4, forged)} where seq = 4`.execute(database.db);
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, {
          seq: 4,
          kind: 'changed',
          message: 'event #4 was changed: its hash was recomputed, but event #5 recorded a different hash for it',
        });
      });

      test('the last event changed and rehashed: it no longer matches the head', async () => {
        const database = await open(10);
        const r = await row(database, 10);
        await sql`update audit_events set actor = 'mallory', hash = ${storedRowHash(r.prev_hash, 10, { ...r, actor: 'mallory' })} where seq = 10`.execute(database.db);
        const { problem } = await problemOf(database);
        assert.equal(problem.seq, 10);
        assert.equal(problem.kind, 'changed');
        assert.match(problem.message, /^event #10 does not match the head/);
      });

      test('a middle row deleted', async () => {
        const database = await open(10);
        await sql`delete from audit_events where seq = 5`.execute(database.db);
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, { seq: 5, kind: 'deleted', message: 'event #5 is missing: #4 is followed by #6' });
      });

      test('several rows deleted, including the first', async () => {
        const database = await open(10);
        await sql`delete from audit_events where seq <= 3`.execute(database.db);
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, { seq: 1, kind: 'deleted', message: 'events #1 to #3 are missing: the log starts at #4' });
      });

      test('a middle row deleted and the later rows renumbered to close the gap', async () => {
        const database = await open(10);
        await sql`delete from audit_events where seq = 5`.execute(database.db);
        await renumberFrom(database, 6, -1);
        const { problem } = await problemOf(database);
        assert.equal(problem.seq, 5);
        assert.equal(problem.kind, 'deleted');
        assert.match(problem.message, /^event #5 is missing: the events after it were renumbered .*now numbered #5 was #6/);
      });

      test('the tail deleted', async () => {
        const database = await open(10);
        await sql`delete from audit_events where seq > 7`.execute(database.db);
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, {
          seq: 8,
          kind: 'truncated',
          message: 'the log ends at #7 but the head records #10: events were deleted from the end',
        });
      });

      test('a forged row inserted with a correct hash, later rows renumbered', async () => {
        const database = await open(10);
        const before = await row(database, 4);
        await renumberFrom(database, 5, 1);
        const forged = { seq: 5, at: '2026-11-20T09:04:30.000Z', actor: 'alice', action: 'approval.approved', subject: 'deployment:2', data: '{"to":"approved"}', prev_hash: before.hash };
        await database.db.insertInto('audit_events').values({ ...forged, hash: storedRowHash(before.hash, 5, forged) }).execute();
        const { problem } = await problemOf(database);
        assert.equal(problem.seq, 5);
        assert.equal(problem.kind, 'inserted');
        assert.match(problem.message, /^event #5 was inserted: the event now numbered #6 records the hash of #4/);
      });

      test('a forged row inserted without a valid hash, later rows renumbered', async () => {
        const database = await open(10);
        await renumberFrom(database, 5, 1);
        await database.db
          .insertInto('audit_events')
          .values({ seq: 5, at: '2026-11-20T09:04:30.000Z', actor: 'alice', action: 'approval.approved', subject: 'deployment:2', data: '{}', prev_hash: 'f'.repeat(64), hash: 'e'.repeat(64) })
          .execute();
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, {
          seq: 5,
          kind: 'inserted',
          message: 'event #5 was inserted: the event after it records the hash of #4, so it followed #4 before #5 was added',
        });
      });

      test('a forged row appended after the head', async () => {
        const database = await open(10);
        const last = await row(database, 10);
        const forged = { seq: 11, at: '2026-11-20T09:20:00.000Z', actor: 'alice', action: 'approval.approved', subject: 'deployment:9', data: '{}', prev_hash: last.hash };
        await database.db.insertInto('audit_events').values({ ...forged, hash: storedRowHash(last.hash, 11, forged) }).execute();
        const { problem } = await problemOf(database);
        assert.equal(problem.seq, 11);
        assert.equal(problem.kind, 'inserted');
      });

      test('two adjacent rows swapped', async () => {
        const database = await open(10);
        await swap(database, 6, 7);
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, { seq: 6, kind: 'reordered', message: 'events around #6 are out of order: #6 and #7 were swapped' });
      });

      test('two distant rows swapped', async () => {
        const database = await open(10);
        await swap(database, 3, 8);
        const { problem } = await problemOf(database);
        assert.deepEqual(problem, { seq: 3, kind: 'reordered', message: 'events around #3 are out of order: #3 and #8 were swapped' });
      });
    });

    test('the export is one JSON object per line, in order, and re-verifies against the head', async () => {
      const database = await open(12);
      const file = path.join(tempDir(), 'audit.jsonl');
      const out = fs.createWriteStream(file);
      const summary = await exportAuditJsonl(database, out, 5);
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      const text = fs.readFileSync(file, 'utf8');
      const lines = text.split('\n');
      assert.equal(lines.pop(), '', 'the file ends with a newline');
      assert.equal(lines.length, 12);
      const events = lines.map((l) => JSON.parse(l) as AuditEvent);
      assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 12 }, (_, i) => i + 1));
      assert.deepEqual(Object.keys(events[0]), ['seq', 'at', 'actor', 'action', 'subject', 'data', 'prevHash', 'hash']);
      assert.deepEqual(events[0].data, { to: 'approved', step: 1, note: 'façade ✓', nested: { a: null, b: [1, 2] } });

      const head = (await readAuditHead(database.db))!;
      assert.deepEqual(summary, { events: 12, lastSeq: 12, lastHash: head.hash });
      assert.deepEqual(await verifyAuditChain(parseAuditJsonl(text), head), { ok: true, events: 12, lastSeq: 12, lastHash: head.hash });

      // An edited copy of the export is caught too.
      const edited = parseAuditJsonl(text.replace('"step":9', '"step":90'));
      const result = await verifyAuditChain(edited, head);
      assert.equal(result.ok, false);
      assert.deepEqual(!result.ok && [result.problem.seq, result.problem.kind], [9, 'changed']);
    });
  });
}

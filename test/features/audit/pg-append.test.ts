// On PostgreSQL a transaction's events are chained by the database (shipgate_audit_append,
// features/audit/sql-store.ts): the hashes it writes must be the ones shipgate computes and
// verifies, for any text an event can hold, and a database that hashes otherwise must fail the
// append without writing anything. A real PostgreSQL on loopback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { StoreError } from '../../../src/errors.js';
import { GENESIS_HASH, eventHash } from '../../../src/features/audit/chain.js';
import { appendAuditEvents, readAuditEvents, readAuditHead, verifyStoredChain } from '../../../src/features/audit/sql-store.js';
import { inTransaction } from '../../../src/store/db.js';
import { freshDatabase } from '../../support/databases.js';

// Everything JSON escapes or encodes in more than one byte, in every text column and the data.
const AWKWARD = ['quote " and backslash \\ ', 'tab\tnew\nline\rform\fback\b', 'control \u0001\u001f', 'façade ✓ 日本 🚀', 'line sep \u2028 para \u2029', '</script>'];

test('PostgreSQL chains events exactly as shipgate hashes them, for every kind of text', async () => {
  const database = await freshDatabase('postgres');
  try {
    const inputs = AWKWARD.map((text, i) => ({
      actor: `actor ${text}`,
      action: `action.${i}`,
      subject: `deployment:${text}`,
      data: { text, n: i, nested: { list: [text, null, 1.5] } },
      at: new Date(Date.UTC(2026, 10, 24, 9, i)),
    }));
    // Appended as a transaction's events are: several in one statement, then more after them.
    const first = await inTransaction(database, (trx) => appendAuditEvents(trx, 'postgres', inputs.slice(0, 4)));
    const second = await inTransaction(database, (trx) => appendAuditEvents(trx, 'postgres', inputs.slice(4)));
    const events = [...first, ...second];
    assert.deepEqual(
      events.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6],
    );
    let prev = GENESIS_HASH;
    for (const e of events) {
      assert.equal(e.hash, eventHash(prev, e), `event #${e.seq} hashed as shipgate hashes it`);
      prev = e.hash;
    }
    const stored = await readAuditEvents(database.db, { limit: 10 });
    assert.deepEqual(
      stored.map((e) => [e.seq, e.actor, e.subject, e.prevHash, e.hash]),
      events.map((e) => [e.seq, e.actor, e.subject, e.prevHash, e.hash]),
    );
    assert.deepEqual(await readAuditHead(database.db), { seq: 6, hash: prev });
    const verified = await verifyStoredChain(database);
    assert.equal(verified.ok, true, JSON.stringify(verified));
  } finally {
    await database.close();
  }
});

test('a database that hashes otherwise fails the append: nothing is written and the head stays', async () => {
  const database = await freshDatabase('postgres');
  try {
    const event = { actor: 'alice', action: 'approval.approved', subject: 'deployment:1', data: { ok: true }, at: new Date() };
    await inTransaction(database, (trx) => appendAuditEvents(trx, 'postgres', [event]));
    const head = await readAuditHead(database.db);
    // The function altered to hash one byte more than shipgate does.
    await sql
      .raw(
        `create or replace function shipgate_audit_append(p_at text[], p_actor text[], p_action text[], p_subject text[], p_data text[], p_rest text[])
         returns table (from_seq integer, from_hash text, to_seq integer, to_hash text) language plpgsql as $fn$
         declare h_seq integer; h_hash text; next_hash text;
         begin
           select a.seq, a.hash into h_seq, h_hash from audit_head a where a.id = 1 for update;
           from_seq := h_seq; from_hash := h_hash;
           for i in 1 .. array_length(p_rest, 1) loop
             h_seq := h_seq + 1;
             next_hash := encode(sha256(convert_to('["' || h_hash || '",' || h_seq::text || p_rest[i] || ' ', 'UTF8')), 'hex');
             insert into audit_events (seq, at, actor, action, subject, data, prev_hash, hash)
               values (h_seq, p_at[i], p_actor[i], p_action[i], p_subject[i], p_data[i], h_hash, next_hash);
             h_hash := next_hash;
           end loop;
           update audit_head set seq = h_seq, hash = h_hash where id = 1;
           to_seq := h_seq; to_hash := h_hash;
           return next;
         end $fn$`,
      )
      .execute(database.db);
    await assert.rejects(
      inTransaction(database, (trx) => appendAuditEvents(trx, 'postgres', [event, event])),
      (err: unknown) => err instanceof StoreError && /PostgreSQL chained audit event #3/.test((err as Error).message),
    );
    assert.deepEqual(await readAuditHead(database.db), head);
    assert.equal((await readAuditEvents(database.db, { limit: 10 })).length, 1);
  } finally {
    await database.close();
  }
});

// Signed audit checkpoints against a store admin who rewrites history with SQL, recomputes
// every later hash and moves the head: `audit verify` alone finds nothing (the chain is
// consistent), while the checkpoint catches every rewrite at or before its number. A rewrite
// after the newest checkpoint stays undetected, as docs/evidence.md says. On SQLite and
// PostgreSQL.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { sql } from 'kysely';
import type { Actor } from '../../../src/features/access/actor.js';
import { storedRowHash } from '../../../src/features/audit/chain.js';
import { checkAnchor, type Checkpoint, checkpointText, makeCheckpoint, openCheckpoint } from '../../../src/features/evidence/checkpoint.js';
import { startCheckpoints } from '../../../src/features/evidence/checkpoints.js';
import { generateKeys, readSigningKey, readVerifyingKey } from '../../../src/features/evidence/keys.js';
import { createShipgate, type Shipgate, sqlStoreOn } from '../../../src/main.js';
import type { Database } from '../../../src/store/db.js';
import { testConfig } from '../../support/config.js';
import { freshDatabase, STORE_KINDS, tempDir } from '../../support/databases.js';
import { until } from '../../support/serve.js';

const alice: Actor = { user: 'alice', via: 'token' };
const keyDir = tempDir('shipgate-checkpoint-keys-');
const keyFiles = generateKeys(keyDir);
const key = readSigningKey(keyFiles.privateFile);
const pub = readVerifyingKey(keyFiles.publicFile);
const otherPub = readVerifyingKey(generateKeys(path.join(keyDir, 'other'), 'ed25519').publicFile);

const T0 = Date.parse('2026-11-20T09:00:00Z');

async function appendEvents(sg: Shipgate, from: number, to: number) {
  for (let i = from; i <= to; i++) {
    await sg.store.transaction((tx) =>
      tx.audit.append([{ actor: i % 2 ? 'alice' : 'bob', action: 'approval.approved', subject: `deployment:${i}`, data: { role: 'lead', comment: `event ${i}` }, at: new Date(T0 + i * 60_000) }]),
    );
  }
}

type Row = { seq: number; at: string; actor: string; action: string; subject: string; data: string; prev_hash: string; hash: string };

async function rows(db: Database): Promise<Row[]> {
  return (await db.db.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').execute()).map((r) => ({ ...r, seq: Number(r.seq) })) as Row[];
}

/** What a store admin does after editing: recompute every prev_hash and hash in order, and move the head to the end. */
async function rehashAll(db: Database) {
  let prev = '0'.repeat(64);
  for (const r of await rows(db)) {
    const hash = storedRowHash(prev, r.seq, r);
    await db.db.updateTable('audit_events').set({ prev_hash: prev, hash }).where('seq', '=', r.seq).execute();
    prev = hash;
  }
  const last = (await rows(db)).at(-1);
  await db.db.updateTable('audit_head').set({ seq: last?.seq ?? 0, hash: last?.hash ?? '0'.repeat(64) }).where('id', '=', 1).execute();
}

/** Renumbers every event from `from` on by `by` (two steps, since seq is unique). */
async function renumberFrom(db: Database, from: number, by: number) {
  await sql`update audit_events set seq = -seq where seq >= ${from}`.execute(db.db);
  await sql`update audit_events set seq = -seq + ${by} where seq < 0`.execute(db.db);
}

/** Each rewrite a store admin can make before the checkpoint (#12, written after event 12). */
const REWRITES: { what: string; rewrite: (db: Database) => Promise<void> }[] = [
  { what: 'a field of #5 edited', rewrite: async (db) => void (await db.db.updateTable('audit_events').set({ actor: 'mallory' }).where('seq', '=', 5).execute()) },
  { what: 'the data of #12 (the checkpointed event) edited', rewrite: async (db) => void (await db.db.updateTable('audit_events').set({ data: '{"comment":"forged","role":"lead"}' }).where('seq', '=', 12).execute()) },
  { what: 'the time of #1 moved', rewrite: async (db) => void (await db.db.updateTable('audit_events').set({ at: '2026-11-19T09:00:00.000Z' }).where('seq', '=', 1).execute()) },
  {
    what: '#7 deleted and the later events renumbered',
    rewrite: async (db) => {
      await db.db.deleteFrom('audit_events').where('seq', '=', 7).execute();
      await renumberFrom(db, 8, -1);
    },
  },
  {
    what: 'a forged event slipped in at #7',
    rewrite: async (db) => {
      const six = (await rows(db)).find((r) => r.seq === 6)!;
      await renumberFrom(db, 7, 1);
      await db.db.insertInto('audit_events').values({ ...six, seq: 7, actor: 'mallory', data: '{"comment":"forged approval","role":"lead"}' }).execute();
    },
  },
  {
    what: '#3 and #4 swapped',
    rewrite: async (db) => {
      await sql`update audit_events set seq = -1 where seq = 3`.execute(db.db);
      await sql`update audit_events set seq = 3 where seq = 4`.execute(db.db);
      await sql`update audit_events set seq = 4 where seq = -1`.execute(db.db);
    },
  },
  { what: 'the log cut back to #9 and the head moved back', rewrite: async (db) => void (await db.db.deleteFrom('audit_events').where('seq', '>=', 10).execute()) },
  {
    what: 'the log cut back to #9 and regrown with forged events past the checkpoint',
    rewrite: async (db) => {
      const nine = (await rows(db)).find((r) => r.seq === 9)!;
      await db.db.deleteFrom('audit_events').where('seq', '>=', 10).execute();
      for (let s = 10; s <= 22; s++) await db.db.insertInto('audit_events').values({ ...nine, seq: s, actor: 'mallory', data: `{"comment":"forged ${s}"}` }).execute();
    },
  },
  { what: 'every event deleted', rewrite: async (db) => void (await db.db.deleteFrom('audit_events').execute()) },
];

for (const kind of STORE_KINDS) {
  describe(`audit checkpoints on ${kind}`, () => {
    const opened: Shipgate[] = [];
    after(async () => {
      for (const sg of opened) await sg.store.close();
    });

    /** A log of 20 events with a checkpoint of #12 (its own audit.checkpoint event is #13). */
    async function logWithCheckpoint() {
      const db = await freshDatabase(kind);
      const sg = createShipgate({ config: testConfig(), store: sqlStoreOn(db) });
      opened.push(sg);
      await appendEvents(sg, 1, 12);
      let file = '';
      const made = await makeCheckpoint(sg, alice, key, (env) => (file = checkpointText(env)));
      await appendEvents(sg, 14, 20);
      return { db, sg, file, checkpoint: made.checkpoint };
    }

    /** What `audit verify --checkpoint` decides: the chain, then the checkpoint against the store. */
    async function verifyWith(sg: Shipgate, c: Checkpoint) {
      const chain = await sg.audit.verify();
      const anchor = await checkAnchor(c, async (seq) => (await sg.audit.events({ afterSeq: seq - 1, limit: 1 }))[0] ?? null, await sg.audit.head());
      return { chain, anchor };
    }

    test('a checkpoint records the head, is audited, and holds while the log only grows', async () => {
      const { sg, file, checkpoint } = await logWithCheckpoint();
      assert.equal(checkpoint.seq, 12);
      const opened = openCheckpoint(file, pub);
      assert.ok(opened.ok);
      assert.deepEqual(opened.checkpoint, checkpoint);
      const [event] = await sg.audit.events({ subject: 'audit', limit: 10 });
      assert.equal(event.action, 'audit.checkpoint');
      assert.deepEqual(event.data, { seq: 12, hash: checkpoint.hash, keyId: pub.keyId, via: 'token' });
      const { chain, anchor } = await verifyWith(sg, checkpoint);
      assert.equal(chain.ok, true);
      assert.equal(anchor.ok, true, anchor.message);
    });

    for (const { what, rewrite } of REWRITES) {
      test(`rewritten and rehashed, head moved: ${what} — verify alone passes, the checkpoint catches it`, async () => {
        const { db, sg, checkpoint } = await logWithCheckpoint();
        await rewrite(db);
        await rehashAll(db);
        const { chain, anchor } = await verifyWith(sg, checkpoint);
        assert.equal(chain.ok, true, 'the rewrite leaves a consistent chain: verify without a checkpoint cannot see it');
        assert.equal(anchor.ok, false, `the checkpoint must catch: ${what}`);
        assert.match(anchor.message, /#12/);
        assert.match(anchor.message, /rewritten|missing|cut back/);
      });
    }

    test('a rewrite after the checkpoint is not caught by it (the documented limit)', async () => {
      const { db, sg, checkpoint } = await logWithCheckpoint();
      await db.db.updateTable('audit_events').set({ actor: 'mallory' }).where('seq', '=', 17).execute();
      await rehashAll(db);
      const { chain, anchor } = await verifyWith(sg, checkpoint);
      assert.equal(chain.ok, true);
      assert.equal(anchor.ok, true, 'events after the newest checkpoint are only as trustworthy as the database');
    });

    test('a changed checkpoint file, or another key, is refused', async () => {
      const { file } = await logWithCheckpoint();
      const env = JSON.parse(file);
      const body = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8'));
      const forged = { ...env, payload: Buffer.from(JSON.stringify({ ...body, seq: 11 })).toString('base64') };
      const r1 = openCheckpoint(JSON.stringify(forged), pub);
      assert.ok(!r1.ok && /signature does not verify/.test(r1.problem), JSON.stringify(r1));
      const r2 = openCheckpoint(file, otherPub);
      assert.ok(!r2.ok && /not by the key given/.test(r2.problem), JSON.stringify(r2));
      for (let i = 0; i < file.length; i += 7) {
        const changed = file.slice(0, i) + String.fromCharCode(file.charCodeAt(i) ^ 1) + file.slice(i + 1);
        assert.equal(openCheckpoint(changed, pub).ok, false, `a change at character ${i} of the checkpoint must be refused`);
      }
    });
  });
}

describe('checkpoints on a schedule (what serve runs)', () => {
  test('written into the directory while the log grows, none while only the checkpoints themselves were recorded', async () => {
    const db = await freshDatabase('sqlite');
    const dir = tempDir('shipgate-checkpoints-');
    const config = { ...testConfig(), evidence: { keyFile: keyFiles.privateFile, checkpointEveryMs: 50, checkpointsDir: path.join(dir, 'cps') } };
    const sg = createShipgate({ config, store: sqlStoreOn(db) });
    await appendEvents(sg, 1, 5);
    const ticks: boolean[] = [];
    const logged: string[] = [];
    const log = { info: (_o: object, m: string) => logged.push(m), error: (o: object, m: string) => logged.push(`${m} ${JSON.stringify(o)}`) };
    const running = startCheckpoints(sg, log, { onTick: (wrote) => ticks.push(wrote) });
    try {
      await until('the first checkpoint and five idle ticks after it', async () => ticks.length >= 6);
      assert.deepEqual(ticks.slice(0, 6), [true, false, false, false, false, false], logged.join('; '));
      await appendEvents(sg, 7, 7);
      await until('a checkpoint of the grown log', async () => ticks.filter(Boolean).length >= 2);
    } finally {
      await running.stop();
    }
    const files = fs.readdirSync(path.join(dir, 'cps')).sort();
    assert.deepEqual(files, ['audit-checkpoint-000000000005.json', 'audit-checkpoint-000000000007.json']);
    for (const f of files) {
      const opened = openCheckpoint(fs.readFileSync(path.join(dir, 'cps', f), 'utf8'), pub);
      assert.ok(opened.ok);
      const anchor = await checkAnchor(opened.checkpoint, async (seq) => (await sg.audit.events({ afterSeq: seq - 1, limit: 1 }))[0] ?? null, await sg.audit.head());
      assert.ok(anchor.ok, anchor.message);
    }
    const recorded = (await sg.audit.events({ subject: 'audit', limit: 10 })).map((e) => [e.actor, (e.data as { seq: number }).seq]);
    assert.deepEqual(recorded, [['shipgate', 5], ['shipgate', 7]]);
    await sg.store.close();
  });

  test('without a key, serve carries on and says checkpoints are off', async () => {
    const sg = createShipgate({ config: testConfig(), store: sqlStoreOn(await freshDatabase('sqlite')) });
    const logged: string[] = [];
    const running = startCheckpoints(sg, { info: (_o, m) => logged.push(m), error: (_o, m) => logged.push(m) });
    await running.stop();
    assert.deepEqual(logged, ['audit checkpoints are off: no evidence signing key configured (evidence.key or evidence.key_env)']);
    await sg.store.close();
  });
});

// The pure chain: canonical encoding, hashing, and the verifier over events held in memory
// (an exported file, read back), including tampering that only a file can show.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  type AuditEvent,
  GENESIS_HASH,
  canonicalJson,
  eventHash,
  storedRowHash,
  verifyAuditChain,
} from '../../../src/features/audit/chain.js';

function chain(n: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = { seq, at: `2026-11-20T09:${String(seq).padStart(2, '0')}:00.000Z`, actor: 'alice', action: 'deployment.state', subject: 'deployment:1', data: { to: `s${seq}` } };
    const hash = eventHash(prevHash, e);
    events.push({ ...e, prevHash, hash });
    prevHash = hash;
  }
  return events;
}

describe('canonical JSON', () => {
  test('the same value gives the same text whatever the key order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'é' } }), '{"a":{"c":"é","d":[1,{"x":1,"y":2}]},"b":1}');
    assert.equal(canonicalJson({ a: { c: 'é', d: [1, { x: 1, y: 2 }] }, b: 1 }), canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'é' } }));
  });

  test('undefined properties are left out, like JSON; dates become ISO text', () => {
    assert.equal(canonicalJson({ a: undefined, b: [undefined], at: new Date('2026-11-20T09:00:00Z') }), '{"at":"2026-11-20T09:00:00.000Z","b":[null]}');
    assert.equal(canonicalJson(undefined), 'null');
  });

  test('values JSON cannot hold are refused with a reason', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    assert.throws(() => canonicalJson(loop), /circular/);
    assert.throws(() => canonicalJson({ n: 10n }), /bigint/);
  });
});

describe('event hash', () => {
  test('the hash of a stored row (data as canonical text) equals the hash of the parsed event', () => {
    const e = { seq: 7, at: '2026-11-20T09:00:00.000Z', actor: 'bob', action: 'approval.approved', subject: 'deployment:3', data: { role: 'tech-lead', note: 'ok "quoted"\n' } };
    assert.equal(storedRowHash('a'.repeat(64), 7, { ...e, data: canonicalJson(e.data) }), eventHash('a'.repeat(64), e));
    assert.match(eventHash(GENESIS_HASH, e), /^[0-9a-f]{64}$/);
  });

  test('every field is covered', () => {
    const e = { seq: 7, at: '2026-11-20T09:00:00.000Z', actor: 'bob', action: 'approval.approved', subject: 'deployment:3', data: { a: 1 } };
    const base = eventHash(GENESIS_HASH, e);
    for (const changed of [{ seq: 8 }, { at: '2026-11-20T09:00:01.000Z' }, { actor: 'eve' }, { action: 'approval.rejected' }, { subject: 'deployment:4' }, { data: { a: 2 } }]) {
      assert.notEqual(eventHash(GENESIS_HASH, { ...e, ...changed }), base, JSON.stringify(changed));
    }
    assert.notEqual(eventHash('1'.repeat(64), e), base);
  });
});

describe('the hashed bytes (unchanged by the faster encoder)', () => {
  /** The hash as first written: JSON.stringify of the array around the stored data text. */
  function reference(prevHash: unknown, seq: unknown, fields: unknown[], data: string): string {
    const head = JSON.stringify([prevHash, seq, ...fields]);
    return createHash('sha256').update(`${head.slice(0, -1)},${data}]`, 'utf8').digest('hex');
  }

  test('sha256sum over the documented text gives the hash shipgate computes', () => {
    // The data text as stored: canonical JSON with an escaped backslash and quote, and an é.
    const data = String.raw`{"a":1,"note":"é \\ \""}`;
    const text = `["${GENESIS_HASH}",1,"2026-11-20T09:00:00.000Z","alice","approval.approved","deployment:1",${data}]`;
    const sum = execFileSync('sha256sum', { input: text }).toString().split(' ')[0];
    const row = { at: '2026-11-20T09:00:00.000Z', actor: 'alice', action: 'approval.approved', subject: 'deployment:1', data };
    assert.equal(storedRowHash(GENESIS_HASH, 1, row), sum);
  });

  test('every awkward text, and what a tamperer may leave in a column, hashes as JSON.stringify writes it', () => {
    const texts = ['', 'plain', 'quote " here', 'back\\slash', 'line\nbreak\ttab', '\u0001\u001f\u007f', 'façade ✓', '😀 pair', 'lone \ud800 high', 'lone \udc00 low', 'sep \u2028\u2029', 'x'.repeat(5000)];
    const others: unknown[] = [null, undefined, 42, -0, 1.5, Number.NaN, Infinity, true, Buffer.from('alice'), { toJSON: () => 'then' }];
    for (const v of [...texts, ...others]) {
      const fields = [v, v, v, v];
      const row = { at: v, actor: v, action: v, subject: v, data: '{}' } as unknown as Parameters<typeof storedRowHash>[2];
      assert.equal(storedRowHash('a'.repeat(64), 7, row), reference('a'.repeat(64), 7, fields, '{}'), JSON.stringify(String(v)));
      assert.equal(storedRowHash(v as string, 7, { ...row, at: 'x' }), reference(v, 7, ['x', v, v, v], '{}'), `as the previous hash: ${String(v)}`);
    }
    for (const seq of [1, 0, -0, 2 ** 53, -5, 1.5, Number.NaN, Infinity]) {
      const row = { at: 'a', actor: 'b', action: 'c', subject: 'd', data: '{"x":[1]}' };
      assert.equal(storedRowHash(GENESIS_HASH, seq, row), reference(GENESIS_HASH, seq, ['a', 'b', 'c', 'd'], '{"x":[1]}'), `seq ${seq}`);
    }
  });
});

describe('verifying a chain held in memory', () => {
  test('an intact chain verifies against its head; a sync or async source both work', async () => {
    const events = chain(20);
    const head = { seq: 20, hash: events[19].hash };
    assert.deepEqual(await verifyAuditChain(events, head), { ok: true, events: 20, lastSeq: 20, lastHash: head.hash });
    async function* stream() {
      yield* events;
    }
    assert.deepEqual(await verifyAuditChain(stream(), head), { ok: true, events: 20, lastSeq: 20, lastHash: head.hash });
  });

  test('lines of an export put out of order are named', async () => {
    const events = chain(20);
    const moved = [...events.slice(0, 9), events[14], ...events.slice(9, 14), ...events.slice(15)];
    const result = await verifyAuditChain(moved, { seq: 20, hash: events[19].hash });
    assert.equal(result.ok, false);
    assert.deepEqual(!result.ok && result.problem, { seq: 10, kind: 'reordered', message: 'events around #10 are out of order: #9 is followed by #15' });
  });

  test('a line repeated in an export is named as inserted', async () => {
    const events = chain(5);
    const result = await verifyAuditChain([...events.slice(0, 3), events[2], ...events.slice(3)]);
    assert.equal(result.ok, false);
    assert.deepEqual(!result.ok && [result.problem.seq, result.problem.kind], [3, 'inserted']);
  });

  test('without the head, a shortened chain still verifies: the head is what catches it', async () => {
    const events = chain(10).slice(0, 7);
    assert.equal((await verifyAuditChain(events)).ok, true);
    const result = await verifyAuditChain(events, { seq: 10, hash: chain(10)[9].hash });
    assert.deepEqual(!result.ok && result.problem.kind, 'truncated');
  });
});

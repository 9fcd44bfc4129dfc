// Audit chain verification time for 1,000,000 events, on a SQLite store.
//
//   node --import tsx bench/audit-verify.ts [--events 1000000] [--runs 3] [--batch 5000]
//
// Builds a store holding N chained events (written straight into the table in large
// transactions: building is not what is measured, but its time is printed), then times
// `verifyStoredChain` over it several times and prints the median. To separate the cost of
// reading the rows from the cost of hashing them, it also times the verifier over the same
// rows held in memory: as stored rows (data as JSON text, what verifyStoredChain hashes) and
// as parsed events (what verifying an exported file does).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import {
  type AuditEvent,
  GENESIS_HASH,
  type StoredAuditRow,
  type VerifyResult,
  canonicalJson,
  storedRowHash,
  verifyAuditChain,
  verifyStoredRows,
} from '../src/features/audit/chain.js';
import { verifyStoredChain } from '../src/features/audit/sql-store.js';
import { openDatabase } from '../src/store/db.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const EVENTS = Number(opt('events', '1000000'));
const RUNS = Number(opt('runs', '3'));
const BATCH = Number(opt('batch', '5000'));
const ACTIONS = ['deployment.requested', 'gate.evaluated', 'deployment.state', 'approval.approved', 'approval.rejected'];
const T0 = Date.parse('2026-01-01T00:00:00Z');

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** An event shaped like the ones shipgate writes: a deployment subject and a small data object. */
function eventAt(seq: number): Omit<StoredAuditRow, 'prev_hash' | 'hash'> {
  const deployment = Math.ceil(seq / 8);
  return {
    seq,
    at: new Date(T0 + seq * 1000).toISOString(),
    actor: seq % 3 ? 'alice' : 'shipgate-controller',
    action: ACTIONS[seq % ACTIONS.length],
    subject: `deployment:${deployment}`,
    data: canonicalJson({ from: 'checking', to: 'awaiting_approval', service: `svc-${deployment % 50}`, environment: 'production', via: 'token' }),
  };
}

async function timed(label: string, run: () => Promise<VerifyResult>): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    const result = await run();
    times.push(seconds(start));
    if (!result.ok || result.events !== EVENTS) throw new Error(`${label}: unexpected result ${JSON.stringify(result)}`);
  }
  const m = median(times);
  console.log(
    `${label.padEnd(44)} median ${m.toFixed(2)} s  (${fmt(EVENTS / m)} events/s; runs: ${times.map((t) => t.toFixed(2)).join(', ')} s)`,
  );
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-bench-audit-'));
const file = path.join(dir, 'shipgate.db');
try {
  console.log(`audit verify benchmark: ${fmt(EVENTS)} events, ${RUNS} runs, batch ${BATCH}; node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})`);

  // Create the schema the normal way, then fill the table directly.
  await (await openDatabase({ sqlitePath: file })).close();
  const buildStart = process.hrtime.bigint();
  const rows: StoredAuditRow[] = new Array(EVENTS);
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const insert = sqlite.prepare(
    'insert into audit_events (seq, at, actor, action, subject, data, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertMany = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const r = rows[i];
      insert.run(r.seq, r.at, r.actor, r.action, r.subject, r.data, r.prev_hash, r.hash);
    }
  });
  let prev = GENESIS_HASH;
  for (let i = 0; i < EVENTS; i++) {
    const e = eventAt(i + 1);
    const hash = storedRowHash(prev, e.seq, e);
    rows[i] = { ...e, prev_hash: prev, hash };
    prev = hash;
  }
  for (let from = 0; from < EVENTS; from += 100_000) insertMany(from, Math.min(EVENTS, from + 100_000));
  sqlite.prepare('update audit_head set seq = ?, hash = ? where id = 1').run(EVENTS, prev);
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  sqlite.close();
  const sizeMb = fs.statSync(file).size / 1e6;
  console.log(`${'build (hash + insert, not the measured part)'.padEnd(44)} ${seconds(buildStart).toFixed(2)} s, file ${sizeMb.toFixed(0)} MB`);

  const database = await openDatabase({ sqlitePath: file });
  try {
    await timed('verifyStoredChain (SQLite file)', () => verifyStoredChain(database, BATCH));
  } finally {
    await database.close();
  }

  const head = { seq: EVENTS, hash: prev };
  await timed('verify in memory, stored rows (hashing only)', () => verifyStoredRows(rows, { head }));
  const events: AuditEvent[] = rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    data: JSON.parse(r.data),
    prevHash: r.prev_hash,
    hash: r.hash,
  }));
  await timed('verify in memory, parsed events (export)', () => verifyAuditChain(events, head));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// Audit chain verification time for 1,000,000 events, on a SQLite store, beside its floor.
//
//   node --import tsx bench/audit-verify.ts [--events 1000000] [--runs 5] [--batch 5000] [--workers N]
//
// Builds a store holding N chained events (written straight into the table in large
// transactions: building is not what is measured, but its time is printed), then times, in
// each round, one run of every measurement below (round after round, so that a busy moment on
// the shared cores hits all of them alike), and prints each median:
// - verifyStoredChain as `shipgate audit verify` runs it (worker threads over ranges), and
//   the same in one thread;
// - the verifier over the same rows held in memory: as stored rows (data as JSON text) and as
//   parsed events (what verifying an exported file does);
// - the floor: sha256 of each event's hashed bytes (the canonical text, built beforehand), one
//   call per event in one thread, with no reading, parsing or comparing;
// - the peer: `sha256sum` over the same bytes written to one file (one hash, no per-event cost).
// The ratios of verify to floor and peer are printed last.
import { execFileSync } from 'node:child_process';
import { hash as digest } from 'node:crypto';
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
const RUNS = Number(opt('runs', '5'));
const BATCH = Number(opt('batch', '5000'));
const WORKERS = args.includes('--workers') ? Number(opt('workers', '2')) : undefined;
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

interface Measurement {
  label: string;
  run: () => Promise<void>;
  times: number[];
}

function measurement(label: string, run: () => Promise<void>): Measurement {
  return { label, run, times: [] };
}

/** A verify run that must find the whole chain intact. */
function verifying(label: string, verify: () => Promise<VerifyResult>): Measurement {
  return measurement(label, async () => {
    const result = await verify();
    if (!result.ok || result.events !== EVENTS) throw new Error(`${label}: unexpected result ${JSON.stringify(result)}`);
  });
}

async function rounds(measurements: Measurement[]): Promise<void> {
  for (let i = 0; i < RUNS; i++) {
    for (const m of measurements) {
      const start = process.hrtime.bigint();
      await m.run();
      m.times.push(seconds(start));
    }
  }
  for (const m of measurements) {
    const t = median(m.times);
    console.log(`${m.label.padEnd(52)} median ${t.toFixed(2)} s  (${fmt(EVENTS / t)} events/s; runs: ${m.times.map((x) => x.toFixed(2)).join(', ')} s)`);
  }
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

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

  // The bytes each event's hash covers, built once: what the floor and the peer hash.
  const texts = rows.map((r) => `${JSON.stringify([r.prev_hash, r.seq, r.at, r.actor, r.action, r.subject]).slice(0, -1)},${r.data}]`);
  if (digest('sha256', texts[EVENTS - 1], 'hex') !== prev) throw new Error('the floor would hash other bytes than the chain does');
  const exported = path.join(dir, 'hashed-bytes.txt');
  fs.writeFileSync(exported, `${texts.join('\n')}\n`);
  const exportedMb = fs.statSync(exported).size / 1e6;
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
  const head = { seq: EVENTS, hash: prev };

  const database = await openDatabase({ sqlitePath: file });
  let ranges = '';
  const verify = verifying('verifyStoredChain, SQLite file (worker threads)', () =>
    verifyStoredChain(database, BATCH, { workers: WORKERS, onRanges: (r) => (ranges = `${r.workers} workers, ${r.ranges} ranges`) }),
  );
  const oneThread = verifying('verifyStoredChain, SQLite file, one thread', () => verifyStoredChain(database, BATCH, { workers: 0 }));
  const floor = measurement('floor: sha256 of each event\'s bytes, one thread', async () => {
    for (let i = 0; i < texts.length; i++) digest('sha256', texts[i], 'hex');
  });
  const peer = measurement(`peer: sha256sum of the same bytes (${exportedMb.toFixed(0)} MB)`, async () => {
    execFileSync('sha256sum', [exported], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
  try {
    console.log(`load average before: ${load()}`);
    await rounds([
      verify,
      oneThread,
      verifying('verify in memory, stored rows (one thread)', () => verifyStoredRows(rows, { head })),
      verifying('verify in memory, parsed events (export)', () => verifyAuditChain(events, head)),
      floor,
      peer,
    ]);
    console.log(`load average after: ${load()}; verify used ${ranges}`);
  } finally {
    await database.close();
  }
  const v = median(verify.times);
  const f = median(floor.times);
  const p = median(peer.times);
  const o = median(oneThread.times);
  console.log(
    `ratios: verify / floor ${(v / f).toFixed(2)}, verify / sha256sum ${(v / p).toFixed(2)}, one thread / floor ${(o / f).toFixed(2)}, floor / sha256sum ${(f / p).toFixed(2)}`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

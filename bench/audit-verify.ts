// Audit chain verification of 1,000,000 events on a SQLite store, as `shipgate audit verify`
// runs it, beside its floor and a peer.
//
//   node --import tsx bench/audit-verify.ts [--events 1000000] [--runs 5] [--batch 5000] [--workers N] [--build] [--in-memory]
//
// Builds a store holding N chained events (written straight into the table in large
// transactions: building is not what is measured, but its time is printed), then times, in
// each round, one run of every measurement below (round after round, so that a busy moment on
// the shared cores hits all of them alike), and prints each median:
// - the command a user runs, `node bin/shipgate.js -c <config> audit verify`, a process each
//   time: dist/ when it is current (bin/shipgate.js's rule; --build runs `npm run build`
//   first), else the sources under tsx, and the line says which; beside it `audit head` on the
//   same store, the part of the command that is not verifying (start, config, opening the
//   store);
// - verifyStoredChain in this process, from the sources (worker threads over ranges; each
//   worker starts tsx), and the same in one thread;
// - with --in-memory, the verifier over the same rows held in memory: as stored rows (data as
//   JSON text) and as parsed events (what verifying an exported file does);
// - the floor: sha256 of each event's hashed bytes (the canonical text, built beforehand), one
//   call per event, with no reading, parsing or comparing: in one thread, and split over as
//   many threads as verify's workers (each holding its share before the clock starts);
// - the peer: `sha256sum` over the same bytes written to one file (one hash, no per-event cost).
// Before the rounds it prints what starting one verify worker costs (built, and from the
// sources under tsx); the ratios of the command to the floors and the peer are printed last.
import { execFileSync, spawnSync } from 'node:child_process';
import { hash as digest } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
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
import { verifyRanges } from '../src/features/audit/range-verify.js';
import { verifyStoredChain } from '../src/features/audit/sql-store.js';
import { openDatabase } from '../src/store/db.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/shipgate.js');
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

const LABEL = 60;
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
  /** Whether events per second mean anything for it. */
  perEvent: boolean;
}

function measurement(label: string, run: () => Promise<void>, perEvent = true): Measurement {
  return { label, run, times: [], perEvent };
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
    const rate = m.perEvent ? `${fmt(EVENTS / t)} events/s; ` : '';
    console.log(`${m.label.padEnd(LABEL)} median ${t.toFixed(2)} s  (${rate}runs: ${m.times.map((x) => x.toFixed(2)).join(', ')} s)`);
  }
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(', ');

// bin/shipgate.js's rule: dist/ runs while it is at least as new as every source file.
function newest(dir: string): number {
  let latest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    latest = Math.max(latest, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return latest;
}
function distIsCurrent(): boolean {
  try {
    return fs.statSync(path.join(ROOT, 'dist/cli/main.js')).mtimeMs >= newest(path.join(ROOT, 'src'));
  } catch {
    return false;
  }
}

/** Milliseconds from starting a verify worker of the built code to its answer for event #1. */
async function builtWorkerStart(sqliteFile: string): Promise<number> {
  const start = process.hrtime.bigint();
  // execArgv [] as under the built command: this process runs tsx, which a worker would inherit.
  const w = new Worker(path.join(ROOT, 'dist/features/audit/verify-worker.js'), { workerData: { sqliteFile }, execArgv: [] });
  w.postMessage({ index: 0, firstSeq: 1, lastSeq: 1 });
  await new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const ms = seconds(start) * 1000;
  await w.terminate();
  return ms;
}

// A floor worker: holds its share of the hashed texts, and hashes them all when told.
const FLOOR_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { hash } = require('node:crypto');
const texts = require('node:fs').readFileSync(workerData, 'utf8').split('\\n');
texts.pop();
parentPort.on('message', () => {
  for (let i = 0; i < texts.length; i++) hash('sha256', texts[i], 'hex');
  parentPort.postMessage(texts.length);
});
parentPort.postMessage(0);
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shipgate-bench-audit-'));
const file = path.join(dir, 'shipgate.db');
const floorWorkers: Worker[] = [];
try {
  console.log(`audit verify benchmark: ${fmt(EVENTS)} events, ${RUNS} runs, batch ${BATCH}; node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})`);
  if (args.includes('--build')) execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  const built = distIsCurrent();

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
  console.log(`${'build (hash + insert, not the measured part)'.padEnd(LABEL)} ${seconds(buildStart).toFixed(2)} s, file ${sizeMb.toFixed(0)} MB`);
  const head = { seq: EVENTS, hash: prev };

  // The bytes each event's hash covers, built once: what the floors and the peer hash.
  const texts = rows.map((r) => `${JSON.stringify([r.prev_hash, r.seq, r.at, r.actor, r.action, r.subject]).slice(0, -1)},${r.data}]`);
  if (digest('sha256', texts[EVENTS - 1], 'hex') !== prev) throw new Error('the floor would hash other bytes than the chain does');
  const exported = path.join(dir, 'hashed-bytes.txt');
  fs.writeFileSync(exported, `${texts.join('\n')}\n`);
  const exportedMb = fs.statSync(exported).size / 1e6;

  // The command, with a config naming the bench's store.
  fs.writeFileSync(
    path.join(dir, 'shipgate.yaml'),
    `version: 1
store: { sqlite: shipgate.db }
roles: [dev]
users: [{ name: alice, roles: [dev] }]
services: [{ name: web }]
environments: [{ name: production, policy: { auto_approve: true } }]
`,
  );
  const env = { ...process.env, SHIPGATE_DATABASE_URL: '', SHIPGATE_SERVER: '', SHIPGATE_TOKEN: '', SHIPGATE_USER: 'alice', SHIPGATE_CONFIG: '' };
  const shipgate = (...argv: string[]) => {
    const r = spawnSync(process.execPath, [BIN, '-c', path.join(dir, 'shipgate.yaml'), '--json', ...argv], { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`shipgate ${argv.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const ran = built ? 'built: dist/' : 'sources under tsx';
  const command = measurement(`shipgate audit verify (the command; ${ran})`, async () => {
    const { result } = shipgate('audit', 'verify') as { result: VerifyResult };
    if (!result.ok || result.events !== EVENTS) throw new Error(`audit verify: unexpected result ${JSON.stringify(result)}`);
  });
  const startup = measurement('  of which not verifying: shipgate audit head, same store', async () => {
    if ((shipgate('audit', 'head') as { head: { seq: number } }).head.seq !== EVENTS) throw new Error('audit head: not the bench head');
  }, false);

  // What one worker costs to start, before any range: built (as under the command), and from the sources.
  const starts = { built: [] as number[], sources: [] as number[] };
  const first = { seq: 1, hash: rows[0].hash };
  for (let i = 0; i < 3; i++) {
    if (fs.existsSync(path.join(ROOT, 'dist/features/audit/verify-worker.js'))) starts.built.push(await builtWorkerStart(file));
    const start = process.hrtime.bigint();
    await verifyRanges(file, first, { workers: 1 });
    starts.sources.push(seconds(start) * 1000);
  }
  console.log(
    `one verify worker, start to first answer (median of 3): built ${starts.built.length ? `${median(starts.built).toFixed(0)} ms` : '(no dist/)'}, from the sources under tsx ${median(starts.sources).toFixed(0)} ms`,
  );

  const database = await openDatabase({ sqlitePath: file });
  let ranges = '';
  const threads = WORKERS ?? Math.min(os.availableParallelism(), 4);
  const inProcess = verifying('verifyStoredChain in this process (sources; worker threads)', () =>
    verifyStoredChain(database, BATCH, { workers: WORKERS, onRanges: (r) => (ranges = `${r.workers} workers, ${r.ranges} ranges`) }),
  );
  const oneThread = verifying('verifyStoredChain in this process, one thread', () => verifyStoredChain(database, BATCH, { workers: 0 }));
  const inMemory: Measurement[] = [];
  if (args.includes('--in-memory')) {
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
    inMemory.push(
      verifying('verify in memory, stored rows (one thread)', () => verifyStoredRows(rows, { head })),
      verifying('verify in memory, parsed events (export)', () => verifyAuditChain(events, head)),
    );
  }
  const floor = measurement("floor: sha256 of each event's bytes, one thread", async () => {
    for (let i = 0; i < texts.length; i++) digest('sha256', texts[i], 'hex');
  });
  // The floor split as verify's ranges are: each thread holds its share, written to its own file.
  const share = Math.ceil(EVENTS / threads);
  for (let t = 0; t < threads; t++) {
    const part = path.join(dir, `hashed-bytes-${t}.txt`);
    fs.writeFileSync(part, texts.slice(t * share, (t + 1) * share).map((x) => `${x}\n`).join(''));
    const w = new Worker(FLOOR_WORKER, { eval: true, workerData: part, execArgv: [] });
    await new Promise((resolve) => w.once('message', resolve));
    floorWorkers.push(w);
  }
  const floorThreads = measurement(`floor: the same, split over ${threads} threads`, async () => {
    const hashed = await Promise.all(
      floorWorkers.map((w) => {
        const done = new Promise<number>((resolve) => w.once('message', resolve));
        w.postMessage('go');
        return done;
      }),
    );
    if (hashed.reduce((a, b) => a + b, 0) !== EVENTS) throw new Error('the threaded floor hashed another count');
  });
  const peer = measurement(`peer: sha256sum of the same bytes (${exportedMb.toFixed(0)} MB)`, async () => {
    execFileSync('sha256sum', [exported], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
  try {
    console.log(`load average before: ${load()}`);
    await rounds([command, startup, inProcess, oneThread, ...inMemory, floor, floorThreads, peer]);
    console.log(`load average after: ${load()}; verify used ${ranges}`);
  } finally {
    await database.close();
  }
  if (distIsCurrent() !== built) console.log('NOTE: dist/ changed state during the rounds (a build or a source edit): the command ran both ways');
  if (!built) console.log('NOTE: dist/ is missing or older than src/, so the command ran the sources under tsx; `npm run build` (or --build) times the built command');
  const c = median(command.times);
  const f = median(floor.times);
  const ft = median(floorThreads.times);
  const p = median(peer.times);
  console.log(
    `ratios: command / floor ${(c / f).toFixed(2)}, command / floor on ${threads} threads ${(c / ft).toFixed(2)}, command / sha256sum ${(c / p).toFixed(2)}, ` +
      `in-process / floor on ${threads} threads ${(median(inProcess.times) / ft).toFixed(2)}, one thread / floor ${(median(oneThread.times) / f).toFixed(2)}`,
  );
} finally {
  for (const w of floorWorkers) await w.terminate();
  fs.rmSync(dir, { recursive: true, force: true });
}

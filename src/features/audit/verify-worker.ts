// A worker thread of range-verify.ts: it opens the audit log's SQLite file read-only, reads each
// range of events it is sent a page at a time, checks it with chain.ts's checkRange and answers
// with what it found. It decides nothing about the whole chain: the main thread joins ranges.
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { type RangeRow, checkRange } from './chain.js';
import type { RangeAnswer, RangeRequest, WorkerSetup } from './range-verify.js';

// Rows read per statement: enough that statements cost little, few enough that a page's rows
// die young (pages of 10,000 kept the collector busier: about a fifth more CPU per event).
const PAGE = 2_000;

// Rows come back as arrays, in RangeRow's order: no object with eight named properties per row.
const SELECT = 'select seq, at, actor, action, subject, data, prev_hash, hash from audit_events where';

const setup = workerData as WorkerSetup;
const db = new SQLite(setup.sqliteFile, { readonly: true, fileMustExist: true });
// The first range has no lower bound, so that a row numbered 0 or below is read (and refused).
const fromStart = db.prepare(`${SELECT} seq <= ? order by seq limit ?`).raw(true);
const after = db.prepare(`${SELECT} seq > ? and seq <= ? order by seq limit ?`).raw(true);

function* rowsOf(req: RangeRequest): Generator<RangeRow> {
  let last: unknown = req.firstSeq === 1 ? null : req.firstSeq - 1;
  for (;;) {
    const page = (last === null ? fromStart.all(req.lastSeq, PAGE) : after.all(last, req.lastSeq, PAGE)) as RangeRow[];
    yield* page;
    if (page.length < PAGE) return;
    last = page[page.length - 1][0];
  }
}

parentPort!.on('message', (req: RangeRequest) => {
  let answer: RangeAnswer;
  try {
    answer = { index: req.index, check: checkRange(rowsOf(req), req.firstSeq, req.lastSeq) };
  } catch (err) {
    answer = { index: req.index, error: (err as Error).message };
  }
  parentPort!.postMessage(answer);
});

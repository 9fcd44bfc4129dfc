// A worker thread of range-verify.ts: it opens the audit log's SQLite file read-only, reads each
// range of events it is sent a page at a time (range-rows.ts), checks it with chain.ts's
// checkRange and answers with what it found. It decides nothing about the whole chain: the main
// thread joins ranges.
import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { checkRange } from './chain.js';
import type { RangeAnswer, RangeRequest, WorkerSetup } from './range-verify.js';
import { rangeReader, schemaProblem } from './range-rows.js';

const setup = workerData as WorkerSetup;
const db = new SQLite(setup.sqliteFile, { readonly: true, fileMustExist: true });
const problem = schemaProblem(db);
const pagesOf = problem ? null : rangeReader(db);

parentPort!.on('message', (req: RangeRequest) => {
  let answer: RangeAnswer;
  try {
    if (!pagesOf) throw new Error(problem!);
    answer = { index: req.index, check: checkRange(pagesOf(req.firstSeq, req.lastSeq), req.firstSeq, req.lastSeq) };
  } catch (err) {
    answer = { index: req.index, error: (err as Error).message };
  }
  parentPort!.postMessage(answer);
});

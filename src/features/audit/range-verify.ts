// Verifying a long SQLite audit log on several cores: events #1 to the head are cut into ranges,
// worker threads (verify-worker.ts) check each range on their own connection, and the ranges
// are joined here, each one's first event recording the last hash of the range before it. The
// answer is how far the chain is known to be good; log.ts's one-thread verifier goes on from
// there, so a broken chain is diagnosed exactly as before, from the range where it breaks.
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ChainHead, GENESIS_HASH, type RangeCheck, type VerifiedEvent } from './chain.js';

/** What a worker is given once. */
export interface WorkerSetup {
  sqliteFile: string;
}

/** One range for a worker: the events numbered firstSeq to lastSeq. */
export interface RangeRequest {
  index: number;
  firstSeq: number;
  lastSeq: number;
}

export type RangeAnswer = { index: number; check: RangeCheck } | { index: number; error: string };

export interface RangeOptions {
  /** Worker threads (default: one per core, at most 4). */
  workers?: number;
  /** Events per range (default 10,000: short enough that the last range, finishing alone, is soon done). */
  rangeSize?: number;
}

/** What the ranges found, for a benchmark or a test to show. */
export interface RangeReport {
  workers: number;
  ranges: number;
  /** The last event up to which the chain was found good (0: none). */
  goodThrough: number;
}

/**
 * Checks events #1 to #head.seq of the log in `sqliteFile` in ranges on worker threads.
 * Returns the last event up to which every event is good and linked, and the head agrees when
 * that is the head's event; null when even the first range is not. Rejects when the workers
 * cannot run (the caller then verifies in one thread).
 */
export async function verifyRanges(
  sqliteFile: string,
  head: ChainHead,
  opts: RangeOptions = {},
): Promise<{ goodThrough: VerifiedEvent | null; report: RangeReport }> {
  const rangeSize = Math.max(1, Math.floor(opts.rangeSize ?? 10_000));
  const requests: RangeRequest[] = [];
  for (let first = 1; first <= head.seq; first += rangeSize) {
    requests.push({ index: requests.length, firstSeq: first, lastSeq: Math.min(head.seq, first + rangeSize - 1) });
  }
  const count = Math.max(1, Math.min(opts.workers ?? Math.min(os.availableParallelism(), 4), requests.length));
  const checks = await runWorkers(workerFile(), { sqliteFile }, requests, count);

  // Join in order; the first range that fails, or does not follow the one before, ends it.
  let goodThrough: VerifiedEvent | null = null;
  for (const check of checks) {
    if (!check || !check.ok) break;
    if (check.firstPrevHash !== (goodThrough?.hash ?? GENESIS_HASH)) break;
    if (check.lastSeq === head.seq && check.last.hash !== head.hash) break;
    goodThrough = check.last;
  }
  return { goodThrough, report: { workers: count, ranges: requests.length, goodThrough: goodThrough?.seq ?? 0 } };
}

// Ranges a worker holds at once: when it finishes one, the next is already in its queue, so it
// never waits for the main thread to answer.
const IN_FLIGHT = 2;

/**
 * Hands the ranges out in order to `count` workers, IN_FLIGHT each, each taking the next when
 * it answers. Once a range fails, later ones are not handed out: the verifier goes on from
 * before it.
 */
function runWorkers(file: string, setup: WorkerSetup, requests: RangeRequest[], count: number): Promise<(RangeCheck | undefined)[]> {
  const checks: (RangeCheck | undefined)[] = new Array(requests.length);
  const workers: Worker[] = [];
  let next = 0;
  let firstFailure = Infinity;
  let busy = 0;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve(checks);
    };
    const held = new Map<Worker, number>();
    const feed = (w: Worker, upTo = IN_FLIGHT) => {
      while ((held.get(w) ?? 0) < upTo && next < requests.length && next < firstFailure) {
        held.set(w, (held.get(w) ?? 0) + 1);
        busy++;
        w.postMessage(requests[next++]);
      }
      if (busy === 0) finish();
    };
    for (let i = 0; i < count; i++) {
      const w = startWorker(file, setup);
      workers.push(w);
      w.on('message', (answer: RangeAnswer) => {
        busy--;
        held.set(w, held.get(w)! - 1);
        if ('error' in answer) return finish(new Error(`audit range #${answer.index} could not be read: ${answer.error}`));
        checks[answer.index] = answer.check;
        if (!answer.check.ok) firstFailure = Math.min(firstFailure, answer.index);
        feed(w);
      });
      w.on('error', (err) => finish(err));
      w.on('exit', (code) => {
        if (!settled) finish(new Error(`an audit verify worker stopped (exit code ${code})`));
      });
    }
    // One range each first, so that no worker starts with nothing while another holds two.
    for (let depth = 1; depth <= IN_FLIGHT; depth++) for (const w of workers) feed(w, depth);
  });
}

/**
 * Run from the sources (tests, benchmarks), the worker's module is TypeScript: the thread
 * first registers tsx, which the main thread was started with, then loads it.
 */
function startWorker(file: string, setup: WorkerSetup): Worker {
  if (!file.endsWith('.ts')) return new Worker(file, { workerData: setup });
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(file).href)}); })`;
  return new Worker(code, { eval: true, workerData: setup });
}

/**
 * The worker's module: beside this one when running from the sources (as .ts under tsx), or in
 * dist/features/audit/ when this code was bundled into another file of dist/.
 */
function workerFile(): string {
  const here = import.meta.url;
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  const candidates = [`./verify-worker${ext}`, './features/audit/verify-worker.js', '../features/audit/verify-worker.js'];
  for (const candidate of candidates) {
    const file = fileURLToPath(new URL(candidate, here));
    if (fs.existsSync(file)) return file;
  }
  throw new Error('the audit verify worker (features/audit/verify-worker.js) is not installed beside shipgate');
}

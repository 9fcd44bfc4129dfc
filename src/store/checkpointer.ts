// Folding a served SQLite file's write-ahead log back into the database on a worker thread.
// Left to itself, SQLite does this inside whichever commit fills the log past 1,000 pages:
// that commit copies the pages and waits for two fsyncs, 5–16 ms on a plain disk, while the
// server's one thread answers nobody (under bench/approve-latency.ts, every hundredth approval,
// and more than half of all the time commits took). `shipgate serve` turns that off on its
// connection and lets a thread with its own connection do it: a passive checkpoint every
// quarter second, which never takes the write lock, so commits go on meanwhile.
// The log starts over from its beginning only when a commit finds every page of it already
// copied, which writes that never pause for a quarter second do not allow. When it has grown
// past 64 MB, the serving connection itself checkpoints once between two transactions: the
// thread has copied nearly everything, so that costs one fsync, and the next commit starts the
// log over (and cuts the file back to 64 MB). Until the thread has opened the file, and
// whenever it cannot run, the connection checkpoints for itself.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import type { Database } from './db.js';

export interface CheckpointerOptions {
  /** Between passive checkpoints (default 250 ms). */
  everyMs?: number;
  /** Log pages past which the serving connection checkpoints once (default 16,384: 64 MB of 4 KB pages). */
  restartAbovePages?: number;
  /** Told why the thread could not start or stopped early; the connection checkpoints itself then. */
  onError?: (err: Error) => void;
}

/** What the thread reports after each checkpoint that had pages to copy. */
export interface CheckpointReport {
  /** Pages in the log, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
  /** The serving connection checkpointed too, so that the log starts over. */
  handedBack: boolean;
}

export interface Checkpointer {
  /** Every checkpoint that copied pages (for tests and debugging). */
  onReport?: (r: CheckpointReport) => void;
  stop(): Promise<void>;
}

// SQLite's own default, restored when the thread is gone.
const AUTOCHECKPOINT_PAGES = 1000;
// How long the thread may take to open its connection, and how long stop() waits for it to
// close the connection before terminating it.
const READY_MS = 15_000;
const STOP_MS = 5000;

// The thread's code: plain JavaScript run from a string, so it needs no file of its own in
// dist/ and no TypeScript loader when shipgate runs from its sources.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Sqlite = require(workerData.module);
let db, passive;
try {
  db = new Sqlite(workerData.file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  passive = db.prepare('pragma wal_checkpoint(PASSIVE)');
} catch (err) {
  // SQLite's own errors lose their message between threads: a plain one keeps it.
  throw new Error('cannot open ' + workerData.file + ': ' + err.message + (err.code ? ' (' + err.code + ')' : ''));
}
parentPort.postMessage('ready');
let copied = -1;
const timer = setInterval(() => {
  try {
    const r = passive.get();
    if (r.checkpointed !== copied) parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
    copied = r.checkpointed;
  } catch (err) {
    // Busy or locked: the next round tries again.
    if (!/busy|locked/i.test(String(err && err.message))) throw err;
  }
}, workerData.everyMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); db.close(); parentPort.close(); } });
`;

/**
 * Starts checkpointing `database` (a SQLite file) on a worker thread, once the thread has
 * opened the file; null for PostgreSQL or a database in memory, where there is nothing to do,
 * and null (after telling opts.onError) if the thread could not start.
 */
export async function startCheckpointer(database: Database, opts: CheckpointerOptions = {}): Promise<Checkpointer | null> {
  if (database.dialect !== 'sqlite' || database.location === ':memory:') return null;
  const setAutocheckpoint = (pages: number) => sql.raw(`pragma wal_autocheckpoint = ${pages}`).execute(database.db);
  const restartAbove = opts.restartAbovePages ?? 16_384;
  const worker = new Worker(THREAD, {
    eval: true,
    // Plain CommonJS: none of the process's flags (a loader, --input-type=module) apply to it.
    execArgv: [],
    workerData: {
      module: createRequire(import.meta.url).resolve('better-sqlite3'),
      file: database.location,
      everyMs: opts.everyMs ?? 250,
    },
  });
  // The connection goes on checkpointing for itself until the thread has its own connection
  // open: a log never left without anyone to fold it back.
  let failure: Error | null = null;
  const why = (code: number) => failure ?? new Error(`the checkpoint thread ended with code ${code}`);
  worker.on('error', (err: unknown) => {
    failure ??= err instanceof Error ? err : new Error(`the checkpoint thread failed: ${JSON.stringify(err)}`);
  });
  const started = await new Promise<boolean>((resolve) => {
    const settle = (ok: boolean) => {
      clearTimeout(deadline);
      worker.off('message', onReady);
      worker.off('exit', onExit);
      resolve(ok);
    };
    const onReady = (m: unknown) => m === 'ready' && settle(true);
    const onExit = (code: number) => {
      failure = why(code);
      settle(false);
    };
    const deadline = setTimeout(() => {
      failure ??= new Error(`the checkpoint thread did not open ${database.location} within ${READY_MS} ms`);
      settle(false);
    }, READY_MS);
    worker.on('message', onReady);
    worker.once('exit', onExit);
  });
  if (!started) {
    await worker.terminate().catch(() => {});
    opts.onError?.(failure ?? new Error('the checkpoint thread did not start'));
    return null;
  }
  let stopped = false;
  const gone = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const checkpointer: Checkpointer = {
    async stop() {
      if (stopped) return gone;
      stopped = true;
      // Kept alive until the thread has closed its connection, for at most STOP_MS: a thread
      // that does not answer by then is terminated (SQLite keeps the file whole either way).
      worker.ref();
      worker.postMessage('stop');
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([gone, new Promise<void>((resolve) => (deadline = setTimeout(resolve, STOP_MS)))]);
      clearTimeout(deadline);
      await worker.terminate().catch(() => {});
      await setAutocheckpoint(AUTOCHECKPOINT_PAGES).catch(() => {});
    },
  };
  let handingBack = false;
  worker.on('message', (r: Omit<CheckpointReport, 'handedBack'>) => {
    if (r.log <= restartAbove || handingBack || stopped) return checkpointer.onReport?.({ ...r, handedBack: false });
    // Queued behind any transaction on the connection; passive, so never waiting on the thread.
    handingBack = true;
    sql
      .raw('pragma wal_checkpoint(PASSIVE)')
      .execute(database.db)
      .then(
        () => checkpointer.onReport?.({ ...r, handedBack: true }),
        () => {},
      )
      .finally(() => {
        handingBack = false;
      });
  });
  // The thread failed: the connection checkpoints itself again.
  let exited = false;
  worker.once('exit', (code) => {
    exited = true;
    if (stopped) return;
    opts.onError?.(why(code));
    void setAutocheckpoint(AUTOCHECKPOINT_PAGES).catch(() => {});
  });
  // A background helper: it never keeps the process alive by itself. Unreferenced only now,
  // after the listeners above: adding a 'message' listener references the thread's port again.
  worker.unref();
  await setAutocheckpoint(0);
  // A log that starts over is cut back to this size, not kept at the largest it ever grew to.
  await sql.raw(`pragma journal_size_limit = ${restartAbove * 4096}`).execute(database.db);
  // Gone already, between its start and now: the connection keeps checkpointing for itself.
  if (exited) await setAutocheckpoint(AUTOCHECKPOINT_PAGES);
  return checkpointer;
}

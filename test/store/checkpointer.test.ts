// The write-ahead log of a served SQLite file is folded back into the database by a worker
// thread (store/checkpointer.ts), not inside the server's commits: real files, a real thread.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import { type CheckpointReport, startCheckpointer } from '../../src/store/checkpointer.js';
import { type Database, inTransaction, openDatabase } from '../../src/store/db.js';
import { tempDir } from '../support/databases.js';
import { until } from '../support/serve.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function fileDatabase(): Promise<{ database: Database; file: string }> {
  const dir = tempDir('shipgate-wal-');
  dirs.push(dir);
  const file = path.join(dir, 'shipgate.db');
  const database = await openDatabase({ sqlitePath: file });
  await sql`create table notes (id integer primary key, body text not null)`.execute(database.db);
  return { database, file };
}

/** Commits `n` transactions of one 2 KB row each, as a busy server would. */
async function write(database: Database, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await inTransaction(database, (trx) => sql`insert into notes (body) values (${'x'.repeat(2048)})`.execute(trx));
  }
}

const autocheckpoint = async (database: Database) => Object.values((await sql.raw('pragma wal_autocheckpoint').execute(database.db)).rows[0] as object)[0];
const walBytes = (file: string) => (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);

test('commits leave checkpoints to the thread, which folds the log into the database file; the log then starts over', async () => {
  const { database, file } = await fileDatabase();
  const checkpointer = await startCheckpointer(database, { everyMs: 50 });
  assert.ok(checkpointer);
  const reports: CheckpointReport[] = [];
  checkpointer.onReport = (r) => reports.push(r);
  assert.equal(await autocheckpoint(database), 0, 'the serving connection no longer checkpoints inside its commits');
  const dbBefore = fs.statSync(file).size;
  await write(database, 1500);
  // Without the thread the log would only grow (autocheckpoint is off): all of it reaches the file.
  // The thread's latest report, not any earlier one: between two commits it may have caught up for a moment.
  await until('every page of the log checkpointed', async () => {
    const last = reports.at(-1);
    return last !== undefined && last.checkpointed === last.log;
  }, 30_000, 50);
  assert.ok(fs.statSync(file).size > dbBefore + 1500 * 2048, 'the rows are in the database file itself');
  const grown = walBytes(file);
  // The next commit after a complete checkpoint writes from the start of the log again (or the
  // one after it, if the thread was reading the log just then): 20 more commits leave it as long.
  let commits = 1500;
  await until(`the log reused from its start, not grown (it held ${grown} bytes)`, async () => {
    const before = walBytes(file);
    await write(database, 20);
    commits += 20;
    return walBytes(file) === before;
  }, 30_000, 10);
  const count = await sql<{ n: number }>`select count(*) as n from notes`.execute(database.db);
  assert.equal(count.rows[0].n, commits);
  await checkpointer.stop();
  assert.equal(await autocheckpoint(database), 1000, 'stopped: the connection checkpoints for itself again');
  await database.close();
});

test('writes that never pause: past the size limit the serving connection checkpoints once and the log starts over', async () => {
  const { database, file } = await fileDatabase();
  // 200 pages: the log is let grow to 800 KB (and cut back to it when it starts over).
  const checkpointer = await startCheckpointer(database, { everyMs: 20, restartAbovePages: 200 });
  assert.ok(checkpointer);
  const reports: CheckpointReport[] = [];
  checkpointer.onReport = (r) => reports.push(r);
  // 3,000 commits of a 2 KB row: each writes at least one 4 KB page, so 12 MB or more go
  // through the log, with no pause for the thread to catch up.
  const sizes: number[] = [];
  for (let i = 0; i < 60; i++) {
    await write(database, 50);
    sizes.push(walBytes(file));
    // Let the thread's reports in between bursts, as a server's event loop would.
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(reports.some((r) => r.handedBack), `the serving connection checkpointed (reports: ${reports.length})`);
  const restarts = sizes.filter((size, i) => i > 0 && size < sizes[i - 1]).length;
  assert.ok(restarts >= 2, `the log started over and was cut back (sizes in bytes: ${sizes.join(' ')})`);
  assert.ok(Math.max(...sizes) < 10 * 1024 * 1024, `the log stayed bounded (sizes in bytes: ${sizes.join(' ')})`);
  const count = await sql<{ n: number }>`select count(*) as n from notes`.execute(database.db);
  assert.equal(count.rows[0].n, 3000);
  await checkpointer.stop();
  await database.close();
});

test('a thread that cannot open the file: the connection goes on checkpointing for itself, and the reason is told', async () => {
  const { database } = await fileDatabase();
  const missing = path.join(tempDir('shipgate-wal-'), 'missing.db');
  const errors: Error[] = [];
  const checkpointer = await startCheckpointer({ ...database, location: missing }, { onError: (e) => errors.push(e) });
  assert.equal(checkpointer, null);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /missing\.db|unable to open|does not exist/i);
  assert.equal(await autocheckpoint(database), 1000, 'the connection still checkpoints inside its commits');
  await database.close();
});

test('nothing to do for a database in memory', async () => {
  const database = await openDatabase({ sqlitePath: ':memory:' });
  assert.equal(await startCheckpointer(database), null);
  await database.close();
});

test('a process that ends without stopping the thread still exits: the thread never keeps it alive', async () => {
  const { database, file } = await fileDatabase();
  await database.close();
  // A child process of its own: the thread, its connection and the commits, then nothing left to do.
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
    import { sql } from 'kysely';
    import { startCheckpointer } from ${JSON.stringify(new URL('../../src/store/checkpointer.ts', import.meta.url).href)};
    import { openDatabase } from ${JSON.stringify(new URL('../../src/store/db.ts', import.meta.url).href)};
    const database = await openDatabase({ sqlitePath: ${JSON.stringify(file)} });
    const checkpointer = await startCheckpointer(database, { everyMs: 20 });
    for (let i = 0; i < 200; i++) await sql\`insert into notes (body) values ('x')\`.execute(database.db);
    await new Promise((r) => setTimeout(r, 100));
    console.log('done; thread running: ' + (checkpointer !== null));
  `], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 30_000).unref())]);
  if (code === 'running') child.kill('SIGKILL');
  assert.equal(code, 0, `the process exited by itself (output: ${out.trim()})`);
  assert.match(out, /done; thread running: true/);
});

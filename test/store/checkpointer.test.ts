// The write-ahead log of a served SQLite file is folded back into the database by a worker
// thread (store/checkpointer.ts), not inside the server's commits: real files, a real thread.
import assert from 'node:assert/strict';
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
  await until('every page of the log checkpointed', async () => reports.some((r) => r.log > 1000 && r.checkpointed === r.log), 30_000, 50);
  assert.ok(fs.statSync(file).size > dbBefore + 1500 * 2048, 'the rows are in the database file itself');
  const grown = walBytes(file);
  // The next commit after a complete checkpoint writes from the start of the log again.
  await write(database, 1);
  const walAfter = walBytes(file);
  await write(database, 20);
  assert.equal(walBytes(file), walAfter, `the log is reused from its start, not grown (it held ${grown} bytes)`);
  const count = await sql<{ n: number }>`select count(*) as n from notes`.execute(database.db);
  assert.equal(count.rows[0].n, 1521);
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

test('a thread that cannot open the file hands checkpoints back to the connection', async () => {
  const { database } = await fileDatabase();
  const checkpointer = await startCheckpointer({ ...database, location: path.join(tempDir('shipgate-wal-'), 'missing.db') });
  assert.ok(checkpointer);
  await until('autocheckpoint restored', async () => (await autocheckpoint(database)) === 1000, 30_000, 50);
  await database.close();
});

test('nothing to do for a database in memory', async () => {
  const database = await openDatabase({ sqlitePath: ':memory:' });
  assert.equal(await startCheckpointer(database), null);
  await database.close();
});

// Connections lent out by shipgate's PostgreSQL pool (store/pg-queue.ts) when the server cuts
// them: against the throwaway PostgreSQL of scripts/test.sh, with pg_terminate_backend.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/store/db.js';
import { queuedPool } from '../../src/store/pg-queue.js';
import { freshPostgresUrl } from '../support/databases.js';
import { until } from '../support/serve.js';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

/** Runs `fn` on a connection of its own, as an administrator would. */
async function asAdmin<T>(url: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

const terminate = (url: string, pid: number) => asAdmin(url, (admin) => admin.query('select pg_terminate_backend($1)', [pid]));

test('a lent-out connection the server cuts between two statements: the process lives on, the connection is dropped, the next one is fresh', async () => {
  const url = await freshPostgresUrl();
  const raw = new pg.Pool({ connectionString: url, max: 2 });
  raw.on('error', () => {});
  const pool = queuedPool(raw, 2, 5000);
  closers.push(() => pool.end());
  const client = (await pool.connect()) as unknown as pg.PoolClient;
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
  let ended = false;
  client.on('end', () => (ended = true));
  // Cut while no statement runs: pg raises the client's 'error' event, which ended the process
  // when nothing listened for it (node:test fails this test on an uncaught exception).
  await terminate(url, pid);
  await until('the connection saw it was cut', async () => ended, 30_000, 20);
  await assert.rejects(client.query('select 1'), /not queryable|terminat|Connection/i, 'the next statement on it fails');
  client.release();
  assert.equal(raw.totalCount, 0, 'the cut connection is not given to anyone again');
  const next = (await pool.connect()) as unknown as pg.PoolClient;
  const again = (await next.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
  assert.notEqual(again, pid);
  next.release();
});

test('a transaction whose connection is cut midway fails as a store error naming the store, and the store serves again', async () => {
  const url = await freshPostgresUrl();
  const database = await openDatabase({ url });
  closers.push(() => database.close());
  await sql`create table notes (id serial primary key, body text not null)`.execute(database.db);
  let pid = 0;
  const failed = await database.db
    .transaction()
    .execute(async (trx) => {
      pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0].pid;
      await sql`insert into notes (body) values ('half')`.execute(trx);
      await terminate(url, pid);
      // The cut reaches this connection while it waits between two statements.
      await until('the cut is seen', () => asAdmin(url, async (admin) => (await admin.query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount === 0), 30_000, 20);
      await sql`insert into notes (body) values ('after the cut')`.execute(trx);
    })
    .then(
      () => null,
      (err: Error) => err,
    );
  assert.ok(failed, 'the transaction failed');
  assert.match(failed.message, /the store is unavailable \(postgres:\/\/[^)]*\)/);
  assert.doesNotMatch(failed.message, /password|secret/);
  const rows = await sql<{ n: string }>`select count(*) as n from notes`.execute(database.db);
  assert.equal(Number(rows.rows[0].n), 0, 'nothing of the cut transaction was kept');
});

// What users see when the store goes away under a running `shipgate serve`: PostgreSQL cutting
// every connection (pg_terminate_backend), stopped, then started again; a SQLite store whose
// disk is full or that turns read-only. The server stays up, answers 503 `store_error` naming
// the store while it is away, and serves again as soon as it is back. Real processes, a
// PostgreSQL server of the test's own, real SQLite files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { sql } from 'kysely';
import { createShipgate, sqlStoreOn } from '../../src/main.js';
import { buildServer } from '../../src/server/app.js';
import { openDatabase } from '../../src/store/db.js';
import { cliIn } from '../support/cli.js';
import { testConfig } from '../support/config.js';
import { tempDir } from '../support/databases.js';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres.js';
import { startServe, until, type Served } from '../support/serve.js';

const CONFIG = `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
environments:
  - name: staging
    policy: { auto_approve: true }
`;

let postgres: OwnPostgres | null = null;
let served: Served | null = null;
after(async () => {
  await served?.stop();
  postgres?.destroy();
});

test('PostgreSQL cut, stopped and started again: serve stays up, answers 503 store_error meanwhile, and recovers', async () => {
  postgres = startOwnPostgres();
  const dir = tempDir('shipgate-outage-');
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG);
  const env = { ...process.env, SHIPGATE_DATABASE_URL: postgres.url, SHIPGATE_USER: '' };
  const { json } = cliIn(dir, () => env);
  const { token } = await json(['token', 'create', 'carol']);
  served = await startServe(dir, env, ['--reconcile-every', '1']);
  const statuses: number[] = [];
  const get = async () => {
    const res = await fetch(`${served!.url}/api/v1/status`, { headers: { authorization: `Bearer ${token}` } });
    statuses.push(res.status);
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  };
  assert.equal((await get()).status, 200);

  // Every connection cut by the database: the pool's idle clients die with it.
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  const cut = await admin.query('select count(pg_terminate_backend(pid)) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()');
  await admin.end();
  assert.ok(Number(cut.rows[0].n) >= 1, 'serve had at least one connection open');
  await until('200 again after the connections were cut', async () => (await get()).status === 200, 30_000);
  assert.ok(served.running(), `serve is still running: ${served.stderr()}`);

  // Maintenance: the database refuses new connections (ALLOW_CONNECTIONS false) and the open
  // ones are cut. Every answer meanwhile is 503, never 500; allowed again, 200.
  const maintenance = new URL(postgres.url);
  maintenance.pathname = '/template1';
  const dba = new pg.Client({ connectionString: maintenance.toString() });
  await dba.connect();
  // Should the test fail midway, its own connection ends with the server: no stray error then.
  dba.on('error', () => {});
  await dba.query('alter database postgres allow_connections false');
  await dba.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = 'postgres'");
  // The first 503s may name the cut connections (57P01); then new ones are refused (55000).
  const refused = (await until('503 naming the refused connections', async () => {
    if (!served!.running()) throw new Error(`serve exited: ${served!.stderr().slice(-3000)}`);
    const r = await get();
    assert.notEqual(r.status, 500, `never 500: ${r.body.error?.message}`);
    return r.status === 503 && /not currently accepting connections/.test(r.body.error!.message) ? r : null;
  }, 30_000))!;
  assert.equal(refused.body.error!.code, 'store_error');
  for (let i = 0; i < 5; i++) assert.equal((await get()).status, 503, 'every request while it refuses');
  await dba.query('alter database postgres allow_connections true');
  await dba.end();
  await until('200 again once connections are allowed', async () => (await get()).status === 200, 30_000);

  // The database stops: 503 naming the store, with no password in it.
  postgres.stop();
  const down = (await until('503 while the database is stopped', async () => {
    if (!served!.running()) throw new Error(`serve exited: ${served!.stderr().slice(-3000)}`);
    const r = await get();
    return r.status === 503 ? r : null;
  }, 30_000))!;
  assert.equal(down.body.error!.code, 'store_error');
  assert.match(down.body.error!.message, /the store is unavailable \(postgres:\/\/shipgate@127\.0\.0\.1:\d+\/postgres\)/);
  // The reconciler runs every second meanwhile and must not take the process down either.
  await new Promise((r) => setTimeout(r, 2500));
  assert.ok(served.running(), `serve is still running with the database down: ${served.stderr()}`);

  postgres.start();
  await until('200 again once the database is back', async () => (await get()).status === 200, 60_000);
  const reg = await fetch(`${served.url}/api/v1/releases`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'web', version: '1.0.0', digest: `sha256:${'f1'.repeat(32)}`, commit: 'abc1234' }),
  });
  assert.equal(reg.status, 201, 'writes work again');
  assert.ok(served.running());
  assert.deepEqual(statuses.filter((s) => s !== 200 && s !== 503), [], 'only 200 and 503, never 500');
});

test('a SQLite store whose disk is full or that is read-only answers 503 naming the file, and writes nothing half-way', async () => {
  const file = path.join(tempDir('shipgate-full-'), 'shipgate.db');
  const database = await openDatabase({ sqlitePath: file });
  const app = createShipgate({ config: testConfig(), store: sqlStoreOn(database) });
  const server = buildServer(app);
  try {
    const { token } = await app.access.createToken({ user: 'admin', via: 'local' }, 'carol', 'test');
    const register = (version: string) =>
      server.inject({
        method: 'POST',
        url: '/api/v1/releases',
        headers: { authorization: `Bearer ${token}` },
        payload: { service: 'web', version, digest: `sha256:${version.replaceAll('.', '').padStart(64, 'a')}`, commit: 'abc1234' },
      });
    assert.equal((await register('1.0.0')).statusCode, 201);
    // The disk is full: SQLite may not grow the file past its current size.
    const pages = await sql<{ page_count: number }>`pragma page_count`.execute(database.db);
    await sql.raw(`pragma max_page_count = ${pages.rows[0].page_count}`).execute(database.db);
    // Writes go on until a page is needed that the disk no longer has (bounded).
    let accepted = 0;
    let full = await register('1.0.1');
    for (let i = 2; full.statusCode === 201 && i < 500; i++) {
      accepted++;
      full = await register(`1.0.${i}`);
    }
    assert.equal(full.statusCode, 503, `still accepting writes after ${accepted} releases`);
    assert.equal(full.json().error.code, 'store_error');
    assert.match(full.json().error.message, new RegExp(`the store is unavailable \\(sqlite ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): database or disk is full`));
    const listed = await server.inject({ method: 'GET', url: '/api/v1/releases', headers: { authorization: `Bearer ${token}` } });
    assert.equal(listed.json().releases.length, accepted + 1, 'the refused release is not half-written');
    assert.equal((await app.audit.verify()).ok, true);

    await sql.raw('pragma query_only = 1').execute(database.db);
    const readOnly = await register('1.0.2');
    assert.equal(readOnly.statusCode, 503);
    assert.match(readOnly.json().error.message, /the store is unavailable \(sqlite .*shipgate\.db\): attempt to write a readonly database/);
    assert.equal((await server.inject({ method: 'GET', url: '/api/v1/status', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, 'reads still work');
  } finally {
    await server.close();
    await database.close();
  }
});

test('an unopenable store file is a clear store error naming it, exit code 1', async () => {
  const dir = tempDir('shipgate-unopenable-');
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG.replace('version: 1', `version: 1\nstore:\n  sqlite: ${path.join(dir, 'a-directory')}`));
  fs.mkdirSync(path.join(dir, 'a-directory'));
  const { cli } = cliIn(dir, () => ({ ...process.env, SHIPGATE_DATABASE_URL: '' }));
  const r = await cli(['status']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot open SQLite database .*a-directory/);
  assert.doesNotMatch(r.stderr, /internal error/);
});

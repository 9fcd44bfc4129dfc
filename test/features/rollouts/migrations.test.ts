// Migrations in the rollout controller, with real processes and a real database file: the
// sample migration tool (examples/migrations/migrate.mjs) runs against a SQLite file in a temp
// folder, with each test's own SQL; the target is the memory driver and the store the memory
// one, so each test checks exactly what was written (state, reason, record, driver actions,
// audit events) and what the database holds. Also the runner alone: timeouts, redaction of
// secrets, counts that drop, settings missing for an environment.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DEFAULT_PLAN, migrationStarted, type RolloutPlan } from '../../../src/domain/rollout.js';
import { MemoryDriver } from '../../../src/drivers/memory/driver.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { canaryAnalysis } from '../../../src/features/rollouts/analysis.js';
import { RolloutController } from '../../../src/features/rollouts/controller.js';
import { type MigrationConfig, migrationSection, resolveMigration } from '../../../src/features/rollouts/migration-config.js';
import { runMigration } from '../../../src/features/rollouts/migrations.js';
import { createShipgate, inMemoryStore } from '../../../src/main.js';
import { testConfig } from '../../support/config.js';
import { tempDir } from '../../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const TOOL = path.join(ROOT, 'examples/migrations/migrate.mjs');
const as = (user: string): Actor => ({ user, via: 'local' });
const PLAN: RolloutPlan = { ...DEFAULT_PLAN, steps: [50, 100], minStepSeconds: 0, maxStepSeconds: 300, postDeployChecks: [0], smoke: [] };

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A database with 3 users, the tool's SQL folder, and a migrate: section pointing at both. */
function database(sql: Record<string, string>, section: Record<string, unknown> = {}) {
  const dir = tempDir('shipgate-migrate-');
  dirs.push(dir);
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com'), ('c@example.com')");
  db.close();
  fs.mkdirSync(path.join(dir, 'sql'));
  for (const [name, text] of Object.entries(sql)) fs.writeFileSync(path.join(dir, 'sql', name), text);
  const cfg = resolveMigration(
    migrationSection.parse({
      up: ['node', TOOL, 'up'],
      down: ['node', TOOL, 'down'],
      count: ['node', TOOL, 'count', 'users'],
      env: { MIGRATIONS_DIR: 'sql' },
      env_from: { production: { DATABASE_URL: 'TEST_PRODUCTION_DB' } },
      timeout: '30s',
      ...section,
    }),
    dir,
  );
  process.env.TEST_PRODUCTION_DB = `file:${file}`;
  const tables = () => {
    const d = new Database(file, { readonly: true });
    try {
      return d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations') ORDER BY name").all().map((r) => (r as { name: string }).name);
    } finally {
      d.close();
    }
  };
  return { dir, file, cfg, tables };
}

/** shipgate on memory with production rolled out by the memory driver; 1.0.0 already runs there. */
async function world(cfg: MigrationConfig) {
  const clock = { now: new Date('2026-11-24T10:00:00Z') };
  const config = testConfig({ soakMinutes: 0, approvals: [], autoApprove: true, emergency: { approvals: [], mayBypass: [] } });
  config.environments.find((e) => e.name === 'production')!.rollout = { driver: { kind: 'memory', settings: null }, metrics: null, plan: PLAN, servicePlans: {} };
  const sg = createShipgate({ config, store: inMemoryStore(), now: () => clock.now });
  const driver = new MemoryDriver();
  const progress: string[] = [];
  const controller = () =>
    new RolloutController({
      records: sg.rollouts,
      target: () => ({ driver, metrics: null, plan: PLAN }),
      analysis: canaryAnalysis(),
      migrations: (d) => (d.service === 'web' ? cfg : null),
      smoke: async () => [],
      now: () => clock.now,
      onProgress: (_d, m) => progress.push(m),
    });
  const release = async (version: string) => {
    await sg.releases.register(as('carol'), { service: 'web', version, digest: `sha256:${version.replaceAll('.', '').padStart(64, 'd')}`, commit: 'abc1234' });
    await sg.releases.verify(as('carol'), 'web', version, 'staging');
    const { view } = await sg.deployments.request(as('carol'), { service: 'web', version, environment: 'production' });
    return view.deployment.id;
  };
  // 1.0.0 has no SQL: its up does nothing, and it becomes the stable version.
  const first = await controller().run(await release('1.0.0'), { pollMs: 0, deadlineMs: 30_000 });
  assert.equal(first.state, 'succeeded', first.reason ?? '');
  const target = driver.target('web', 'production');
  target.actions.length = 0;
  progress.length = 0;
  const events = async (id: number) => sg.audit.events({ subject: `deployment:${id}`, limit: 1000 });
  return { sg, driver, target, controller, release, events, progress };
}

describe('migrations in the rollout controller, against a real SQLite file', () => {
  test('up runs before the canary is deployed, with the record counts; the rollout then goes on as usual', async () => {
    const db = database({
      '2.0.0.up.sql': 'CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL);\nCREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);\n',
      '2.0.0.down.sql': 'DROP TABLE IF EXISTS sessions;\n',
    });
    const w = await world(db.cfg);
    const id = await w.release('2.0.0');
    const c = w.controller();
    await c.step(id); // begin
    assert.equal((await w.sg.rollouts.get(id)).rollout!.phase, 'migrate');
    await c.step(id); // up
    const d = await w.sg.rollouts.get(id);
    assert.equal(d.rollout!.phase, 'deploy');
    assert.deepEqual(w.target.actions, [], 'no canary before the migration ran');
    assert.deepEqual(db.tables(), ['sessions', 'users'], 'the migration is in the database before the canary starts');
    const run = d.rollout!.migration!.runs[0];
    assert.equal(run.direction, 'up');
    assert.equal(run.ok, true);
    assert.equal(run.countBefore, 3);
    assert.equal(run.countAfter, 3);
    assert.ok(run.durationMs! > 0 && run.endedAt !== null);

    const done = await c.run(id, { pollMs: 0, deadlineMs: 30_000 });
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    assert.equal(w.target.actions[0], 'deploy 2.0.0');
    assert.deepEqual(db.tables(), ['sessions', 'users'], 'a successful rollout keeps the migration');
    const actions = (await w.events(id)).map((e) => e.action);
    assert.ok(actions.indexOf('migration.ran') < actions.indexOf('rollout.deployed'));
    const ran = (await w.events(id)).find((e) => e.action === 'migration.ran')!;
    assert.deepEqual({ ...(ran.data as Record<string, unknown>), durationMs: 0, via: undefined }, {
      environment: 'production', version: '2.0.0', direction: 'up', ok: true, durationMs: 0, countBefore: 3, countAfter: 3, during: 'rollout', error: null, via: undefined,
    });
    assert.match(w.progress.join('\n'), /migration up running\n.*migration up ran in \d+ ms \(records 3 → 3\)/);
  });

  test('a failing up blocks the rollout: no canary, down undoes the part that ran, the deployment fails with the tool\'s words', async () => {
    const db = database({
      '3.0.0.up.sql': 'CREATE TABLE IF NOT EXISTS audit_trail (id INTEGER PRIMARY KEY, what TEXT);\nINSERT INTO user_roles (user_id, role) SELECT id, \'member\' FROM users;\n',
      '3.0.0.down.sql': 'DROP TABLE IF EXISTS audit_trail;\n',
    });
    const w = await world(db.cfg);
    const id = await w.release('3.0.0');
    const d = await w.controller().run(id, { pollMs: 0, deadlineMs: 30_000 });
    assert.equal(d.state, 'failed');
    assert.match(d.reason!, /^migration up failed, the rollout is blocked: up: node exited with 1: 3\.0\.0\.up\.sql: no such table: user_roles \| in: INSERT INTO user_roles/);
    assert.match(d.reason!, /; migration down ran: the database is back as it was$/);
    assert.deepEqual(w.target.actions, [], 'the canary was never deployed');
    assert.deepEqual(db.tables(), ['users'], 'the half-applied up was undone');
    const runs = (await w.events(id)).filter((e) => e.action === 'migration.ran').map((e) => e.data as { direction: string; ok: boolean; during: string });
    assert.deepEqual(runs.map((r) => [r.direction, r.ok, r.during]), [['up', false, 'rollout'], ['down', true, 'rollout']]);
    assert.ok(!(await w.events(id)).some((e) => e.action.startsWith('rollout.')), 'nothing was rolled out, so nothing was rolled back');
  });

  test('a rollback after the migration runs down once traffic is back on stable; a failing down ends in rollback_failed', async () => {
    const db = database({
      '4.0.0.up.sql': 'CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT);\n',
      '4.0.0.down.sql': 'DROP TABLE IF EXISTS tags;\n',
      '5.0.0.up.sql': 'CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY);\n',
      '5.0.0.down.sql': 'DROP TABLE labels_v2;\n',
    });
    const w = await world(db.cfg);
    const rollBack = async (version: string) => {
      const id = await w.release(version);
      const c = w.controller();
      for (let i = 0; i < 10 && (await w.sg.rollouts.get(id)).rollout?.weight !== 50; i++) await c.step(id);
      assert.equal((await w.sg.rollouts.get(id)).rollout!.weight, 50);
      await w.sg.rollouts.request(as('carol'), id, 'abort', 'checkout errors in the dashboards');
      return { id, d: await c.run(id, { pollMs: 0, deadlineMs: 30_000 }) };
    };

    const { id, d } = await rollBack('4.0.0');
    assert.equal(d.state, 'rolled_back', d.reason ?? '');
    assert.deepEqual(db.tables(), ['users'], 'down ran');
    const rec = d.rollout!;
    const down = rec.migration!.runs.find((r) => r.direction === 'down')!;
    assert.equal(down.ok, true);
    assert.ok(Date.parse(down.startedAt) >= Date.parse(rec.rollback!.trafficRestoredAt!), 'down after traffic was back on stable');
    const actions = (await w.events(id)).map((e) => (e.action === 'migration.ran' ? `migration.ran ${(e.data as { direction: string; during: string }).direction} ${(e.data as { during: string }).during}` : e.action));
    assert.deepEqual(actions.filter((a) => a.startsWith('migration') || a.startsWith('rollout.r')), ['migration.ran up rollout', 'rollout.rollback_decided', 'rollout.rolled_back', 'migration.ran down rollback']);
    assert.equal(w.target.actions.at(-1), 'rollback');

    w.target.actions.length = 0;
    const failed = await rollBack('5.0.0');
    assert.equal(failed.d.state, 'rollback_failed');
    assert.match(failed.d.reason!, /^rollback requested by carol: checkout errors in the dashboards; rollback failed: traffic is back on stable, but migration down failed: down: node exited with 1: 5\.0\.0\.down\.sql: no such table: labels_v2/);
    assert.deepEqual(db.tables(), ['labels', 'users'], 'the database still has the migration');
    assert.equal(w.target.stable, '1.0.0');
  });

  test('a controller killed during up runs it again on restart; interrupted three times, the rollout is blocked and down runs', async () => {
    const db = database({
      '6.0.0.up.sql': 'CREATE TABLE IF NOT EXISTS carts (id INTEGER PRIMARY KEY);\n',
      '6.0.0.down.sql': 'DROP TABLE IF EXISTS carts;\n',
    });
    const w = await world(db.cfg);
    const id = await w.release('6.0.0');
    await w.controller().step(id); // begin
    // What a controller killed while up ran leaves behind: a run that started and never ended.
    const interrupted = async () => {
      const d = await w.sg.rollouts.get(id);
      const attempt = d.rollout!.migration!.runs.length + 1;
      await w.sg.rollouts.save(d, migrationStarted(d.rollout!, { kind: 'migrate', direction: 'up', attempt }, new Date()));
    };
    await interrupted();
    await w.controller().step(id);
    let rec = (await w.sg.rollouts.get(id)).rollout!;
    assert.equal(rec.phase, 'deploy');
    assert.deepEqual(rec.migration!.runs.map((r) => [r.attempt, r.ok]), [[1, null], [2, true]]);
    assert.match(w.progress.join('\n'), /migration up running again \(attempt 2: the last run was interrupted\)/);

    const id2 = await (async () => {
      await w.controller().run(id, { pollMs: 0, deadlineMs: 30_000 });
      return w.release('7.0.0');
    })();
    fs.writeFileSync(path.join(db.dir, 'sql', '7.0.0.up.sql'), 'CREATE TABLE IF NOT EXISTS wishlists (id INTEGER PRIMARY KEY);\n');
    fs.writeFileSync(path.join(db.dir, 'sql', '7.0.0.down.sql'), 'DROP TABLE IF EXISTS wishlists;\n');
    await w.controller().step(id2);
    for (let i = 0; i < 3; i++) {
      const d = await w.sg.rollouts.get(id2);
      await w.sg.rollouts.save(d, migrationStarted(d.rollout!, { kind: 'migrate', direction: 'up', attempt: i + 1 }, new Date()));
    }
    const d2 = await w.controller().run(id2, { pollMs: 0, deadlineMs: 30_000 });
    assert.equal(d2.state, 'failed');
    assert.match(d2.reason!, /the migration up was interrupted 3 times \(the controller stopped while it ran\); not run again; migration down ran/);
    rec = d2.rollout!;
    assert.deepEqual(rec.migration!.runs.map((r) => `${r.direction} ${r.attempt} ${r.ok}`), ['up 1 null', 'up 2 null', 'up 3 false', 'down 1 true']);
  });
});

describe('the migration runner', () => {
  test('a command past its timeout is killed with what it started, and the run fails with its last lines, secrets redacted', async () => {
    const db = database({}, { up: ['sh', '-c', 'echo "connecting to $DATABASE_URL as app:$DB_PASSWORD_CHECK"; sleep 30 & sleep 30'], timeout: '1s', count: undefined });
    const t0 = Date.now();
    const ran = await runMigration(db.cfg, 'up', { service: 'web', environment: 'production', version: '2.0.0', digest: 'sha256:x', previousVersion: '1.0.0' });
    assert.ok(Date.now() - t0 < 10_000, 'the timeout ended it');
    assert.equal(ran.ok, false);
    assert.match(ran.error!, /^up: sh did not finish within 1 s and was killed: connecting to \[redacted\] as app:$/);
    assert.ok(!ran.error!.includes(db.file));
  });

  test('a database password is redacted alone too, and the placeholders and variables reach the command', async () => {
    process.env.TEST_PG_URL = 'postgres://app:S3cr%21t-pw@db.internal:5432/shop';
    const cfg = resolveMigration(
      migrationSection.parse({
        up: ['sh', '-c', 'echo "{version} {digest} {environment} {previous_version} $VERSION $DIGEST $ENVIRONMENT $PREVIOUS_VERSION"; echo "auth failed for password S3cr!t-pw" >&2; exit 3', '{version}'],
        env_from: { staging: { DATABASE_URL: 'TEST_PG_URL' } },
      }),
      '/tmp',
    );
    const ran = await runMigration(cfg, 'up', { service: 'web', environment: 'staging', version: '2.1.0', digest: 'sha256:ab', previousVersion: '2.0.0' });
    assert.equal(ran.ok, false);
    assert.equal(ran.error, 'up: sh exited with 3: 2.1.0 sha256:ab staging 2.0.0 2.1.0 sha256:ab staging 2.0.0 | auth failed for password [redacted]');
    assert.equal(ran.countBefore, null);
  });

  test('settings missing for the environment, a variable not set, a count that is not a number: not run, and why', async () => {
    const db = database({});
    const ctx = { service: 'web', environment: 'staging', version: '2.0.0', digest: 'sha256:x', previousVersion: null };
    assert.match((await runMigration(db.cfg, 'up', ctx)).error!, /^migrate\.env_from has no entry for staging \(it has production\); not run$/);
    delete process.env.TEST_PRODUCTION_DB;
    assert.match((await runMigration(db.cfg, 'up', { ...ctx, environment: 'production' })).error!, /^TEST_PRODUCTION_DB is not set in shipgate's environment \(migrate\.env_from\.production\.DATABASE_URL\); not run$/);
    process.env.TEST_PRODUCTION_DB = `file:${db.file}`;
    const odd = { ...db.cfg, count: ['sh', '-c', 'echo "users: 3"'] };
    assert.equal((await runMigration(odd, 'up', { ...ctx, environment: 'production' })).error, "count before up: the count command printed 'users: 3', not a record count; up was not run");
    const lost = { ...db.cfg, cwd: path.join(db.dir, 'nowhere') };
    assert.equal((await runMigration(lost, 'up', { ...ctx, environment: 'production' })).error, `count before up: the working directory ${lost.cwd} (migrate.cwd) does not exist; up was not run`);
    assert.deepEqual(db.tables(), ['users']);
  });

  test('a run that loses records fails with the figures', async () => {
    const db = database({ '2.0.0.down.sql': "DELETE FROM users WHERE email <> 'a@example.com';\n" });
    const ran = await runMigration(db.cfg, 'down', { service: 'web', environment: 'production', version: '2.0.0', digest: 'sha256:x', previousVersion: '1.0.0' });
    assert.equal(ran.ok, false);
    assert.equal(ran.error, 'down lost records: the count went from 3 to 1');
    assert.deepEqual([ran.countBefore, ran.countAfter], [3, 1]);
  });
});

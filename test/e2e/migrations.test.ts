// Migrations end to end: `shipgate rollout` and `shipgate rehearse` as a user runs them, on the
// command driver, with the sample migration tool (examples/migrations/migrate.mjs) against a
// real SQLite file named by an environment variable. The driver's deploy script writes down
// which tables the database has when the canary starts, so the test sees the migration landed
// first. A failing up blocks the rollout and down undoes its part; a rollback after a
// migration runs down; a controller killed while up runs is started again and runs up again;
// the rehearsal runs up → down → up with the counts and fails on a down that loses records.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { cliIn, type Run } from '../support/cli.js';
import { tempDir } from '../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TOOL = path.join(ROOT, 'examples/migrations/migrate.mjs');

// The user's driver script: no processes, only a log of each action with the database's tables
// at that moment; <action>.broken makes the action fail as a real tool would.
const DRIVER_SCRIPT = `
import fs from 'node:fs';
import Database from 'better-sqlite3';
const action = process.env.SHIPGATE_ACTION;
const db = new Database(process.env.DB_FILE, { readonly: true });
const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name").all().map((r) => r.name);
fs.appendFileSync('actions.log', \`\${action} \${process.env.SHIPGATE_VERSION} tables=\${tables.join(',')}\\n\`);
if (fs.existsSync(action + '.broken')) {
  console.error(fs.readFileSync(action + '.broken', 'utf8').trim());
  process.exit(4);
}
`;

describe('migrations with shipgate rollout and rehearse, on the command driver and a SQLite file', () => {
  const dir = tempDir('shipgate-migrations-');
  const dbFile = path.join(dir, 'app.db');
  const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '', STAGING_DATABASE_URL: `file:${dbFile}`, DB_FILE: dbFile };
  const { cli, json } = cliIn(dir, () => env);
  let releases = 0;

  const sql = (version: string, up: string, down: string) => {
    fs.writeFileSync(path.join(dir, 'sql', `${version}.up.sql`), up);
    fs.writeFileSync(path.join(dir, 'sql', `${version}.down.sql`), down);
  };
  const tables = () => {
    const db = new Database(dbFile, { readonly: true });
    try {
      return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name").all().map((r) => (r as { name: string }).name);
    } finally {
      db.close();
    }
  };
  const actions = () => fs.readFileSync(path.join(dir, 'actions.log'), 'utf8').trim().split('\n').filter(Boolean);
  const migrationEvents = async (subject: string) =>
    ((await json(['audit', 'list', '--subject', subject, '--limit', '100'])).events as { action: string; data: Record<string, unknown> }[]).filter((e) => e.action === 'migration.ran');

  async function request(version: string): Promise<number> {
    releases += 1;
    const reg = await cli(['release', 'register', 'web', version, '--digest', `sha256:${releases.toString(16).padStart(64, '0')}`, '--commit', `c0ffee${releases}`]);
    assert.equal(reg.code, 0, reg.stderr);
    const out = await json(['deploy', 'web', version, 'staging']);
    fs.writeFileSync(path.join(dir, 'actions.log'), '');
    return (out.view?.deployment ?? out.deployment).id;
  }
  async function rollout(version: string): Promise<{ id: number; run: Run }> {
    const id = await request(version);
    return { id, run: await cli(['rollout', String(id)]) };
  }
  const show = async (id: number) => (await json(['show', String(id)])).deployment;

  before(async () => {
    const db = new Database(dbFile);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users (email) VALUES ('a@example.com'), ('b@example.com'), ('c@example.com')");
    db.close();
    fs.mkdirSync(path.join(dir, 'sql'));
    fs.writeFileSync(path.join(dir, 'driver.mjs'), DRIVER_SCRIPT);
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
    migrate:
      # A release may ask for a slow up (sql/<version>.delay holds seconds), to be killed during it;
      # sql/<version>.started says the command began.
      up: [sh, -c, 'touch "sql/$VERSION.started"; sleep "$(cat "sql/$VERSION.delay" 2>/dev/null || echo 0)"; exec node "$TOOL" up']
      down: [node, ${JSON.stringify(TOOL)}, down]
      count: [node, ${JSON.stringify(TOOL)}, count, users]
      timeout: 60s
      env: { MIGRATIONS_DIR: sql, TOOL: ${JSON.stringify(TOOL)} }
      env_from:
        staging: { DATABASE_URL: STAGING_DATABASE_URL }
environments:
  - name: staging
    policy:
      auto_approve: true
      require_verified_in: null
    rollout:
      driver: command
      command:
        deploy: [node, driver.mjs]
        set_weight: [node, driver.mjs]
        promote: [node, driver.mjs]
        rollback: [node, driver.mjs]
        finalize: [node, driver.mjs]
        timeout: 30s
      steps: [50, 100]
      min_step: 1s
      max_step: 60s
      post_deploy: [0s]
`,
    );
    const first = await rollout('1.0.0');
    assert.equal(first.run.code, 0, `${first.run.stdout}\n${first.run.stderr}`);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the migration runs before the canary: the deploy script already sees its table', async () => {
    sql('2.0.0', 'CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL);\n', 'DROP TABLE IF EXISTS sessions;\n');
    const { id, run } = await rollout('2.0.0');
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /rollout started: migration up, then steps 50 → 100%[^]*migration up running\n[^]*migration up ran in \d+ ms \(records 3 → 3\)\n[^]*canary 2\.0\.0 deployed/);
    assert.equal(actions()[0], 'deploy 2.0.0 tables=sessions,users');
    assert.equal((await show(id)).state, 'succeeded');
    const [ran] = await migrationEvents(`deployment:${id}`);
    assert.equal(ran.data.direction, 'up');
    assert.equal(ran.data.ok, true);
    assert.equal(ran.data.countBefore, 3);
    assert.equal(ran.data.during, 'rollout');
  });

  test('a failing up blocks the rollout: no canary, down runs, the deployment fails with the tool\'s words', async () => {
    sql('3.0.0', 'CREATE TABLE IF NOT EXISTS audit_trail (id INTEGER PRIMARY KEY);\nALTER TABLE accounts ADD COLUMN plan TEXT;\n', 'DROP TABLE IF EXISTS audit_trail;\n');
    const { id, run } = await rollout('3.0.0');
    assert.equal(run.code, 4, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /MIGRATION FAILED: up: sh exited with 1: 3\.0\.0\.up\.sql: no such table: accounts \| in: ALTER TABLE accounts ADD COLUMN plan TEXT; running down/);
    const d = await show(id);
    assert.equal(d.state, 'failed');
    assert.match(d.reason, /^migration up failed, the rollout is blocked: .*no such table: accounts.*; migration down ran: the database is back as it was$/);
    assert.deepEqual(actions(), [], 'no driver action at all');
    assert.deepEqual(tables(), ['sessions', 'users'], 'the audit_trail table the up created is gone');
    assert.ok(!JSON.stringify(d).includes(dbFile), 'the database URL is nowhere in the deployment');
  });

  test('a rollback after a migration runs down once traffic is back on stable', async () => {
    sql('4.0.0', 'CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT);\n', 'DROP TABLE IF EXISTS tags;\n');
    fs.writeFileSync(path.join(dir, 'set-weight.broken'), 'ingress: weight update refused (quota exceeded)');
    try {
      const { id, run } = await rollout('4.0.0');
      assert.equal(run.code, 4, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /rolled back: traffic on stable in \d+ ms[^]*migration down ran in \d+ ms \(records 3 → 3\)/);
      const d = await show(id);
      assert.equal(d.state, 'rolled_back');
      assert.deepEqual(actions(), ['deploy 4.0.0 tables=sessions,tags,users', 'set-weight 4.0.0 tables=sessions,tags,users', 'rollback 4.0.0 tables=sessions,tags,users']);
      assert.deepEqual(tables(), ['sessions', 'users'], 'down ran after the rollback script');
      assert.deepEqual((await migrationEvents(`deployment:${id}`)).map((e) => `${e.data.direction} ${e.data.during} ${e.data.ok}`), ['up rollout true', 'down rollback true']);
    } finally {
      fs.rmSync(path.join(dir, 'set-weight.broken'));
    }
  });

  test('a controller killed with SIGKILL while up runs: the restart sees the unfinished run and runs up again', async () => {
    sql('5.0.0', 'CREATE TABLE IF NOT EXISTS carts (id INTEGER PRIMARY KEY);\n', 'DROP TABLE IF EXISTS carts;\n');
    fs.writeFileSync(path.join(dir, 'sql', '5.0.0.delay'), '2');
    const id = await request('5.0.0');
    const started = path.join(dir, 'sql', '5.0.0.started');
    const controller: { kill?: () => void } = {};
    const running = cli(['rollout', String(id)], { onStdout: (_out, kill) => (controller.kill = kill) });
    // Killed once the up command itself has begun (not merely the count before it).
    const begun = Date.now() + 30_000;
    while (!fs.existsSync(started) || !controller.kill) {
      assert.ok(Date.now() < begun, 'the up command started');
      await new Promise((r) => setTimeout(r, 20));
    }
    controller.kill();
    const killed = await running;
    assert.equal(killed.code, null, 'killed');
    assert.match(killed.stdout, /migration up running\n/);
    const rec = (await show(id)).rollout;
    assert.equal(rec.phase, 'migrate');
    assert.equal(rec.migration.runs.length, 1);
    assert.equal(rec.migration.runs[0].endedAt, null, 'the record knows up started and did not finish');
    // The command the dead controller started runs on (documented): wait for it, as the
    // migration tool's own lock would, before the restart.
    const deadline = Date.now() + 30_000;
    while (!tables().includes('carts')) {
      assert.ok(Date.now() < deadline, 'the orphaned up finished');
      await new Promise((r) => setTimeout(r, 100));
    }
    fs.rmSync(path.join(dir, 'sql', '5.0.0.delay'));
    const run = await cli(['rollout', String(id)]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /migration up running again \(attempt 2: the last run was interrupted\)/);
    const d = await show(id);
    assert.equal(d.state, 'succeeded');
    assert.deepEqual(d.rollout.migration.runs.map((r: { attempt: number; ok: boolean | null }) => [r.attempt, r.ok]), [[1, null], [2, true]]);
    assert.equal(actions()[0], 'deploy 5.0.0 tables=carts,sessions,users');
  });

  test('the rehearsal runs up → down → up with the counts; a down that loses records fails it with the figures', async () => {
    sql('6.0.0', 'CREATE TABLE IF NOT EXISTS wishlists (id INTEGER PRIMARY KEY);\n', 'DROP TABLE IF EXISTS wishlists;\n');
    releases += 1;
    assert.equal((await cli(['release', 'register', 'web', '6.0.0', '--digest', `sha256:${releases.toString(16).padStart(64, '0')}`, '--commit', 'c0ffee6'])).code, 0);
    const out = path.join(dir, 'rehearsal.json');
    const r = await cli(['rehearse', 'web', '6.0.0', 'staging', '--out', out]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /migration: up ok in \d+ ms \(records 3 → 3\), down ok in \d+ ms \(records 3 → 3\), up ok in \d+ ms \(records 3 → 3\)/);
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.deepEqual(report.migration.counts, { beforeUp: 3, afterUp: 3, afterDown: 3, afterUpAgain: 3 });
    assert.deepEqual(report.migration.runs.map((x: { direction: string; ok: boolean }) => `${x.direction} ${x.ok}`), ['up true', 'down true', 'up true']);
    assert.ok(report.msToTraffic !== null && report.msToVerified !== null, 'the rollback figures are there as before');
    assert.deepEqual(tables(), ['carts', 'sessions', 'users', 'wishlists'], 'left migrated up');
    const events = await json(['audit', 'list', '--subject', 'release:web@6.0.0', '--limit', '100']);
    const completed = events.events.find((e: { action: string }) => e.action === 'rehearsal.completed');
    assert.deepEqual(completed.data.migration.counts, report.migration.counts);
    assert.equal(typeof completed.data.msToTraffic, 'number');
    assert.deepEqual((await migrationEvents('release:web@6.0.0')).map((e) => `${e.data.direction} ${e.data.during}`), ['up rehearsal', 'down rehearsal', 'up rehearsal']);

    // A down that deletes what it should keep.
    sql('6.1.0', 'CREATE TABLE IF NOT EXISTS coupons (id INTEGER PRIMARY KEY);\n', "DROP TABLE IF EXISTS coupons;\nDELETE FROM users WHERE email <> 'a@example.com';\n");
    releases += 1;
    assert.equal((await cli(['release', 'register', 'web', '6.1.0', '--digest', `sha256:${releases.toString(16).padStart(64, '0')}`, '--commit', 'c0ffee7'])).code, 0);
    const bad = await cli(['rehearse', 'web', '6.1.0', 'staging', '--out', out]);
    assert.equal(bad.code, 4, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /: FAILED\n/);
    assert.match(bad.stdout, /✘ migration down: down lost records: the count went from 3 to 1/);
    assert.match(bad.stdout, /✘ migration: records lost in down → up: the count went from 3 to 1/);
    const failed = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(failed.migration.ok, false);
    assert.deepEqual(failed.migration.counts, { beforeUp: 3, afterUp: 3, afterDown: 1, afterUpAgain: 1 });
  });
});

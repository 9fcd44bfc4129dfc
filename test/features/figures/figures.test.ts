// The deployment figures read from a real store (a SQLite file, and PostgreSQL when
// SHIPGATE_TEST_DATABASE_URL is set): the scripted history written as shipgate writes it, the
// figures through the service, the HTTP API (401 without a token, 4xx on bad input) and the
// CLI's human and --json output. The numbers are the hand-worked ones of history.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { runCli } from '../../../src/cli/program.js';
import { loadConfig } from '../../../src/config/load.js';
import { FiguresService } from '../../../src/features/figures/service.js';
import { createShipgate, openStore, sqlStoreOn } from '../../../src/main.js';
import { buildServer } from '../../../src/server/app.js';
import type { Database } from '../../../src/store/db.js';
import { testConfig } from '../../support/config.js';
import { freshDatabase, STORE_KINDS, tempDir } from '../../support/databases.js';
import { HISTORY, MIN, NOW, writeHistory } from './history.js';

const KINDS = process.env.SHIPGATE_TEST_DATABASE_URL ? STORE_KINDS : STORE_KINDS.filter((k) => k === 'sqlite');
const byId = (m: any, id: string) => m.figures.find((f: any) => f.id === id);

for (const kind of KINDS) {
  describe(`deployment figures on ${kind}`, () => {
    let database: Database;
    let server: FastifyInstance;
    let base: string;
    let token: string;
    let figures: FiguresService;

    before(async () => {
      database = await freshDatabase(kind);
      const store = sqlStoreOn(database);
      await writeHistory(store, HISTORY);
      const sg = createShipgate({ config: testConfig(), store, now: () => NOW });
      figures = new FiguresService(sg.directory, store, sg.now);
      token = (await sg.access.createToken({ user: 'admin', via: 'local' }, 'gina', 'test')).token;
      server = buildServer(sg);
      await server.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
    });
    after(async () => {
      await server.close();
      await database.close();
    });

    const get = async (p: string, auth = true) => {
      const res = await fetch(`${base}${p}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null };
    };

    test('the service gives the hand-worked figures of production (the last environment) from the stored history', async () => {
      const m = await figures.figures({ since: '30d' });
      assert.equal(m.environment, 'production');
      assert.deepEqual([m.deployed, m.finished], [10, 10]);
      assert.equal(byId(m, 'deployment_frequency').value, 7 / 30);
      assert.deepEqual([byId(m, 'lead_time').median, byId(m, 'lead_time').p90], [220 * MIN, 400 * MIN]);
      assert.equal(byId(m, 'change_failure_rate').value, 0.3);
      assert.deepEqual([byId(m, 'recovery_time').median, byId(m, 'recovery_time').p90], [9000, 15000]);
      assert.equal(byId(m, 'rework_rate').value, 0.1);
      assert.equal(byId(m, 'success_rate').value, 0.7);
      assert.equal(byId(m, 'time_to_deploy').median, 30 * MIN);
      assert.deepEqual([byId(m, 'time_to_rollback').median, byId(m, 'time_to_rollback').p90], [4000, 6000]);
      assert.equal(byId(m, 'mttr').value, 29000 / 3);
      assert.equal(byId(m, 'rollback_frequency').value, 0.3);
      assert.deepEqual([m.rollbacks.canaryCaught, m.rollbacks.reachedFull], [2, 1]);
    });

    test('--env staging counts only staging; --service api finds nothing', async () => {
      const staging = await figures.figures({ environment: 'staging', since: '30d' });
      assert.deepEqual([staging.deployed, staging.rollbacks.canaryCaught], [1, 1]);
      const api = await figures.figures({ service: 'api', since: '30d' });
      assert.equal(api.deployed, 0);
      assert.equal(byId(api, 'change_failure_rate').value, null);
    });

    test('GET /api/v1/metrics: 401 without a token, the figures with one, 4xx on bad input', async () => {
      const none = await get('/api/v1/metrics', false);
      assert.equal(none.status, 401);
      const ok = await get('/api/v1/metrics?since=30d');
      assert.equal(ok.status, 200);
      assert.equal(byId(ok.json.metrics, 'change_failure_rate').of.count, 3);
      assert.match(byId(ok.json.metrics, 'change_failure_rate').definition, /rolled back/);
      const badSince = await get('/api/v1/metrics?since=lastweek');
      assert.equal(badSince.status, 400);
      assert.match(badSince.json.error.message, /--since must be a span like 30d/);
      const badEnv = await get('/api/v1/metrics?env=moon');
      assert.ok(badEnv.status >= 400 && badEnv.status < 500, `unknown environment: ${badEnv.status}`);
      assert.match(badEnv.json.error.message, /moon/);
      const unknownField = await get('/api/v1/metrics?enviroment=production');
      assert.equal(unknownField.status, 400);
    });

    test('GET /api/v1/deployments/:id/report: 401 without a token; md, html and json with one; 404 for no such deployment', async () => {
      assert.equal((await get('/api/v1/deployments/3/report', false)).status, 401);
      const md = await get('/api/v1/deployments/3/report?format=md');
      assert.equal(md.status, 200);
      assert.match(md.type, /text\/markdown/);
      assert.match(md.text, /^# Readiness report: web 1\.0\.3 → production \(deployment 3\)\n\n## FAIL/);
      const html = await get('/api/v1/deployments/1/report?format=html');
      assert.match(html.type, /text\/html/);
      assert.match(html.text, /<span class="verdict PASS" id="verdict">PASS<\/span>/);
      const json = await get('/api/v1/deployments/9/report?format=json');
      assert.equal(json.json.report.verdict, 'FAIL');
      assert.equal(json.json.report.canary.rollback.trigger, 'post_deploy');
      assert.equal((await get('/api/v1/deployments/999/report')).status, 404);
      assert.equal((await get('/api/v1/deployments/1/report?format=pdf')).status, 400);
    });

  });
}

describe('shipgate metrics on the CLI', () => {
  const dir = tempDir('shipgate-metrics-');
  const CONFIG = `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
environments:
  - name: staging
    policy: { auto_approve: true, require_verified_in: null }
  - name: production
    policy: { auto_approve: true }
`;
  const shipgate = async (argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t), env: { SHIPGATE_DATABASE_URL: '' }, cwd: dir });
    return { code, stdout, stderr };
  };

  before(async () => {
    fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG);
    const store = await openStore({ sqlitePath: loadConfig(path.join(dir, 'shipgate.yaml')).store.sqlitePath });
    await writeHistory(store, HISTORY);
    await store.close();
  });

  // The CLI runs on the real clock: a window from a fixed date keeps every count and duration
  // fixed (only the per-day rate depends on today).
  test('--json: every figure with its number and definition', async () => {
    const r = await shipgate(['metrics', '--since', '2026-11-01', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout).metrics;
    assert.equal(m.environment, 'production');
    assert.deepEqual(
      m.figures.map((f: any) => f.id),
      ['deployment_frequency', 'lead_time', 'change_failure_rate', 'recovery_time', 'rework_rate', 'success_rate', 'time_to_deploy', 'time_to_rollback', 'mttr', 'rollback_frequency'],
    );
    for (const f of m.figures) assert.ok(f.definition, `${f.id} has its definition`);
    assert.equal(byId(m, 'deployment_frequency').n, 7);
    assert.equal(byId(m, 'lead_time').median, 220 * MIN);
    assert.deepEqual(byId(m, 'change_failure_rate').of, { count: 3, total: 10 });
  });

  test('the human table prints each number beside its definition, and the canary-caught split', async () => {
    const r = await shipgate(['metrics', '--since', '2026-11-01']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Deployment figures for production \(all services\), 2026-11-01 → /);
    assert.match(r.stdout, /Change failure rate +30\.0% \(3\/10\)\n +deployments to production that ended failed, rolled back or rollback_failed/);
    assert.match(r.stdout, /Lead time for changes +median 3\.7 h, p90 6\.7 h \(n=7\)/);
    assert.match(r.stdout, /MTTR +9\.7 s mean \(n=3\)/);
    assert.match(r.stdout, /Failures: 2 caught by the canary before 100%, 1 reached 100%/);
    assert.match(r.stdout, /#9 web rolled_back: reached 100% \(post_deploy\)/);
  });

  test('a bad --since or environment: exit 2 and a message naming it', async () => {
    const since = await shipgate(['metrics', '--since', 'soon']);
    assert.equal(since.code, 2);
    assert.match(since.stderr, /--since must be a span like 30d/);
    const env = await shipgate(['metrics', '--env', 'moon']);
    assert.equal(env.code, 2);
    assert.match(env.stderr, /moon/);
  });

  test('report -o writes the file whole and says PASS or FAIL', async () => {
    const r = await shipgate(['report', '3', '--format', 'html', '-o', 'r3.html']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^FAIL: readiness report of deployment 3 written to /);
    const text = fs.readFileSync(path.join(dir, 'r3.html'), 'utf8');
    assert.match(text, /^<!doctype html>/);
    assert.doesNotMatch(text, /<script/i);
    assert.ok(!fs.existsSync(path.join(dir, 'r3.html.partial')));
  });
});

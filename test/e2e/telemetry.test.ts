// shipgate's own telemetry, as an operator sees it on a real `shipgate serve`: /metrics after a
// deployment was approved (read by Prometheus's own parser, promtool), who may read it, one
// JSON log line per request with its trace id and never the token, /livez and /readyz while
// PostgreSQL is stopped and after it is back, and counters that ignore a rolled-back change.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { record } from '../../src/features/audit/record.js';
import { createShipgate, sqlStoreOn } from '../../src/main.js';
import { buildServer } from '../../src/server/app.js';
import { openDatabase } from '../../src/store/db.js';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { startOwnPostgres, type OwnPostgres } from '../support/postgres.js';
import { callApi, startServe, until, type Served } from '../support/serve.js';

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

const CONFIG = `version: 1
roles: [developer, devops-lead, tech-lead]
users:
  - { name: alice, roles: [devops-lead] }
  - { name: bob, roles: [tech-lead] }
  - { name: carol, roles: [developer] }
services:
  - name: web
environments:
  - name: staging
    policy: { auto_approve: true }
  - name: production
    policy:
      require_verified_in: staging
      soak: 0
      approvals:
        required: [{ role: devops-lead, count: 1 }, { role: tech-lead, count: 1 }]
`;

const running: Served[] = [];
let postgres: OwnPostgres | null = null;
after(async () => {
  for (const s of running) await s.stop();
  postgres?.destroy();
});

/** The value of one series in Prometheus's text format, or 0 when it is not there. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function setUp(env: NodeJS.ProcessEnv) {
  const dir = tempDir('shipgate-telemetry-');
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG);
  const { json } = cliIn(dir, () => env);
  const tokens: Record<string, string> = {};
  for (const u of ['alice', 'bob', 'carol']) tokens[u] = (await json(['token', 'create', u])).token;
  return { dir, tokens };
}

test('/metrics after an approved deployment: the counters, by route pattern, parsed by promtool; only for token holders', async () => {
  const env = { ...process.env, SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: '', SHIPGATE_LOG_LEVEL: 'info', SHIPGATE_METRICS_TOKEN: 'scraper-secret-123' };
  const { dir, tokens } = await setUp(env);
  const served = await startServe(dir, env);
  running.push(served);
  const lines: string[] = [];
  let partial = '';
  served.child.stdout.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });

  await callApi(served, tokens.carol, 'POST', '/api/v1/releases', { service: 'web', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, commit: 'abcdef1' });
  await callApi(served, tokens.carol, 'POST', '/api/v1/releases/web/1.0.0/verifications', { environment: 'staging' });
  const requested = await callApi(served, tokens.carol, 'POST', '/api/v1/deployments', { service: 'web', version: '1.0.0', environment: 'production' });
  const id = requested.deployment?.id ?? requested.view?.deployment?.id;
  assert.ok(Number.isInteger(id), `a deployment id in ${JSON.stringify(requested).slice(0, 200)}`);
  await callApi(served, tokens.alice, 'POST', `/api/v1/deployments/${id}/approvals`, { decision: 'approve' });
  // A W3C trace context from the caller is kept: its trace id is the request's.
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const res = await fetch(`${served.url}/api/v1/deployments/${id}/approvals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.bob}`, 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    body: JSON.stringify({ decision: 'approve' }),
  });
  assert.equal(res.status, 201);
  assert.match(res.headers.get('traceparent') ?? '', new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`), 'the answer echoes the trace');
  const shown = (await (await fetch(`${served.url}/api/v1/deployments/${id}`, { headers: { authorization: `Bearer ${tokens.carol}` } })).json()) as { deployment: { state: string } };
  assert.equal(shown.deployment.state, 'approved');

  // Who may read it: nobody without a token; any user's API token; the metrics token.
  assert.equal((await fetch(`${served.url}/metrics`)).status, 401);
  assert.equal((await fetch(`${served.url}/metrics`, { headers: { authorization: 'Bearer sg_not-a-token' } })).status, 401);
  assert.equal((await fetch(`${served.url}/metrics`, { headers: { authorization: `Bearer ${tokens.carol}` } })).status, 200);
  const scraped = await fetch(`${served.url}/metrics`, { headers: { authorization: 'Bearer scraper-secret-123' } });
  assert.equal(scraped.status, 200);
  assert.match(scraped.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await scraped.text();

  assert.equal(sample(text, 'shipgate_approvals_total{decision="approve"}'), 2);
  assert.equal(sample(text, 'shipgate_deployments_requested_total{environment="production",type="standard"}'), 1);
  assert.equal(sample(text, 'shipgate_deployment_transitions_total{from="awaiting_approval",to="approved"}'), 1, text.split('\n').filter((l) => l.includes('transitions')).join('\n'));
  assert.equal(sample(text, 'shipgate_open_deployments{state="approved"}'), 1);
  assert.equal(sample(text, 'shipgate_store_up'), 1);
  assert.equal(sample(text, 'shipgate_http_request_duration_seconds_count{route="/api/v1/deployments/:id/approvals",method="POST",status="201"}'), 2);
  assert.equal(sample(text, 'shipgate_http_request_duration_seconds_count{route="/metrics",method="GET",status="401"}'), 2);
  // Route patterns only: no deployment id in a path, no token anywhere.
  assert.doesNotMatch(text, /\/api\/v1\/deployments\/\d/);
  for (const t of [...Object.values(tokens), 'scraper-secret-123']) assert.ok(!text.includes(t), 'no token in the metrics');

  // Prometheus's own parser (and linter) reads it. Its only complaints are of three gauges
  // prom-client names itself (the Node.js process's handles, requests, resources), none of ours.
  const checked = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const problems = `${checked.stdout}${checked.stderr}`.split('\n').filter(Boolean);
  assert.ok(checked.status === 0 || problems.length > 0, `promtool ran: ${checked.error?.message}`);
  for (const p of problems) assert.match(p, /^shipgate_nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/);

  // One JSON line per request, with the route pattern, the user and the trace id; no token.
  await until('the approval request logged', async () => lines.some((l) => l.includes(traceId)), 10_000);
  const logged = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const approval = logged.find((l) => l.trace_id === traceId && l.msg === 'request');
  assert.ok(approval, `a request line with trace_id ${traceId} in:\n${lines.join('\n')}`);
  assert.equal(approval.route, '/api/v1/deployments/:id/approvals');
  assert.equal(approval.method, 'POST');
  assert.equal(approval.status, 201);
  assert.equal(approval.user, 'bob');
  assert.equal(typeof approval.duration_ms, 'number');
  assert.equal(approval.level, 'info');
  const traced = logged.filter((l) => l.msg === 'request');
  assert.ok(traced.length >= 8 && traced.every((l) => typeof l.trace_id === 'string' && /^[0-9a-f]{32}$/.test(l.trace_id as string)), 'every request line has a trace id');
  const all = lines.join('\n');
  for (const t of [...Object.values(tokens), 'scraper-secret-123']) assert.ok(!all.includes(t), 'no token in the logs');
  assert.doesNotMatch(all, /authorization/i);

  // Liveness and readiness need no token.
  assert.deepEqual(await (await fetch(`${served.url}/livez`)).json(), { status: 'live' });
  assert.deepEqual(await (await fetch(`${served.url}/readyz`)).json(), { status: 'ready' });
});

test('/readyz answers 503 with the reason while PostgreSQL is stopped, and 200 once it is back; /livez and /metrics stay up', async () => {
  postgres = startOwnPostgres();
  const env = { ...process.env, SHIPGATE_DATABASE_URL: postgres.url, SHIPGATE_USER: '', SHIPGATE_METRICS_TOKEN: 'scraper-secret-456' };
  const { dir } = await setUp(env);
  const served = await startServe(dir, env);
  running.push(served);
  const ready = async () => {
    const r = await fetch(`${served.url}/readyz`);
    return { status: r.status, body: (await r.json()) as { status: string; reason?: string } };
  };
  assert.equal((await ready()).status, 200);
  postgres.stop();
  const down = (await until('503 from /readyz while PostgreSQL is stopped', async () => {
    const r = await ready();
    return r.status === 503 ? r : null;
  }, 30_000))!;
  assert.deepEqual(down.body, { status: 'not ready', reason: 'the postgres store is unreachable' });
  assert.equal((await fetch(`${served.url}/livez`)).status, 200, 'the process is up all the same');
  // The metrics token needs no store: Prometheus still scrapes, and sees the store down.
  const metrics = async () => {
    const r = await fetch(`${served.url}/metrics`, { headers: { authorization: 'Bearer scraper-secret-456' } });
    assert.equal(r.status, 200);
    return sample(await r.text(), 'shipgate_store_up');
  };
  assert.equal(await metrics(), 0);
  postgres.start();
  await until('200 from /readyz once PostgreSQL is back', async () => (await ready()).status === 200, 60_000);
  await until('shipgate_store_up 1 once PostgreSQL is back', async () => (await metrics()) === 1, 30_000);
});

test('a change that rolls back is not counted; a committed one is (rollout steps, verdicts, rollbacks and their durations)', async () => {
  const dir = tempDir('shipgate-telemetry-tx-');
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG);
  const database = await openDatabase({ sqlitePath: path.join(dir, 'shipgate.db') });
  const sg = createShipgate({ config: loadConfig(path.join(dir, 'shipgate.yaml')), store: sqlStoreOn(database) });
  const server = buildServer(sg);
  const { token } = await sg.access.createToken({ user: 'carol', via: 'local' }, 'carol', 'test');
  const scrape = async () => (await server.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } })).body;
  const series = ['shipgate_rollout_steps_total', 'shipgate_judge_verdicts_total{verdict="pass"}', 'shipgate_judge_verdicts_total{verdict="fail"}', 'shipgate_rollbacks_total{trigger="analysis"}', 'shipgate_rollouts_finished_total{outcome="rolled_back"}', 'shipgate_rollback_duration_seconds_count{phase="traffic"}', 'shipgate_rollback_duration_seconds_sum{phase="traffic"}'];
  const before = await scrape();
  const system = { user: 'shipgate', via: 'system' as const };
  const rollback = { reason: 'error rate 9% over 1%', trigger: 'analysis', decidedAt: new Date().toISOString(), trafficRestoredAt: new Date().toISOString(), verifiedAt: null, msToTraffic: 1500, msToVerified: null, ok: true, detail: null };
  const events = async (tx: Parameters<Parameters<typeof sg.store.transaction>[0]>[0]) => {
    await record(tx, new Date(), system, 'rollout.step_passed', 'deployment:1', { step: 0, weight: 10, message: 'passed' });
    await record(tx, new Date(), system, 'rollout.rollback_decided', 'deployment:1', { trigger: 'analysis', reason: 'error rate', weight: 50, step: 1 });
    await record(tx, new Date(), system, 'rollout.rolled_back', 'deployment:1', rollback);
  };
  await assert.rejects(
    sg.store.transaction(async (tx) => {
      await events(tx);
      throw new Error('the change fails after its events were written');
    }),
    /the change fails/,
  );
  const unchanged = await scrape();
  for (const s of series) assert.equal(sample(unchanged, s), sample(before, s), `${s} counts nothing that rolled back`);
  await sg.store.transaction(events);
  const counted = await scrape();
  for (const s of series.slice(0, -1)) assert.equal(sample(counted, s), sample(before, s) + 1, `${s} counts the committed event`);
  assert.equal(sample(counted, series.at(-1)!), sample(before, series.at(-1)!) + 1.5, 'the rollback took 1.5 s to restore traffic');
  await server.close();
  await database.close();
});

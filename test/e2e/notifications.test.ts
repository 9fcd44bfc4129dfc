// Notices from a real `shipgate serve` to receivers on loopback: a signed-webhook endpoint that
// verifies every signature with the secret, and a mock of Slack (Slack cannot be reached from
// here). The CLI requests, approves and rejects on the same SQLite store; the server delivers.
// Then the webhook fails, the server is SIGKILLed with notices undelivered, started again, and
// every notice arrives: none lost, each once per channel after deduping by webhook-id.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../../src/main.js';
import { cliIn, type Run } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { type Served, startServe, until } from '../support/serve.js';
import { slackMock, webhookReceiver, webhookSecret } from '../features/notifications/receivers.js';

test('approval requests, approvals and rejections reach Slack and the webhook, and survive a SIGKILL', { timeout: 90_000 }, async () => {
  const dir = tempDir('shipgate-notify-');
  const secret = webhookSecret();
  let failing = false;
  const hook = await webhookReceiver(secret, () => failing);
  const slack = await slackMock();
  const slackUrl = `${slack.url}/services/T0/B0/xoxSlackPathSecret`;
  const served: Served[] = [];
  after(async () => {
    for (const s of served) await s.stop();
    await hook.close();
    await slack.close();
  });
  const env = { ...process.env, SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: 'carol', SLACK_URL: slackUrl, HOOK_SECRET: secret };
  const { cli, json } = cliIn(dir, () => env);
  const outputs: Run[] = [];
  // Exit codes as CI reads them: 0 done, 4 the deployment ended (a rejection).
  const run = async (args: string[], user = 'carol', exit = 0) => {
    const r = await cli([...args, '--as', user]);
    outputs.push(r);
    assert.equal(r.code, exit, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
    return r;
  };
  fs.writeFileSync(
    path.join(dir, 'shipgate.yaml'),
    `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
  - { name: alice, roles: [lead] }
services:
  - name: web
  - name: api
  - name: jobs
environments:
  - name: production
    policy:
      require_verified_in: null
      rollback_target: off
      approvals:
        required: [{ role: lead, count: 1 }]
notifications:
  ui_url: https://shipgate.example.com
  retry: { attempts: 30, backoff: 1s, max_backoff: 2s, timeout: 2s }
  channels:
    - { name: releases, type: slack, url_env: SLACK_URL }
    - { name: sink, type: webhook, url: ${hook.url}, secret_env: HOOK_SECRET }
`,
  );
  const deploy = async (service: string) => {
    await run(['release', 'register', service, '1.0.0', '--digest', `sha256:${'c3'.repeat(32)}`, '--commit', 'abc1234']);
    const out = await json(['deploy', service, '1.0.0', 'production', '--as', 'carol']);
    return (out.view?.deployment ?? out.deployment).id as number;
  };

  served.push(await startServe(dir, env));
  const web = await deploy('web');
  await run(['approve', String(web), '--comment', 'dashboards green'], 'alice');
  const api = await deploy('api');
  await run(['reject', String(api), '--reason', 'no rollback plan'], 'alice', 4);

  const first = [
    [web, 'deployment.approval_requested'],
    [web, 'deployment.approved'],
    [api, 'deployment.approval_requested'],
    [api, 'deployment.rejected'],
  ];
  await until('the first four notices on both channels', async () => hook.unique().length === 4 && slack.unique().length === 4, 20_000);
  const got = hook.unique().map((a) => [a.body.data.deployment.id, a.body.type]);
  for (const id of [web, api]) assert.deepEqual(got.filter((g) => g[0] === id), first.filter((e) => e[0] === id));
  assert.equal(hook.forged, 0);
  const approved = hook.unique().find((a) => a.body.type === 'deployment.approved')!.body;
  assert.equal(approved.data.by, 'alice');
  const rejected = hook.unique().find((a) => a.body.type === 'deployment.rejected')!.body;
  assert.equal(rejected.data.reason, 'no rollback plan');
  const request = slack.unique()[0].body;
  assert.match(request.text, /web 1\.0\.0 to production needs approval from lead \(requested by carol\)/);
  assert.equal(request.blocks.at(-1).elements[0].url, `https://shipgate.example.com/ui/deployments/${web}`);

  // The webhook goes down; a new request is audited; the server dies with it undelivered.
  failing = true;
  const jobs = await deploy('jobs');
  await run(['reject', String(jobs), '--reason', 'wrong week'], 'alice', 4);
  await until('the webhook refused the new notice', async () => hook.refused >= 1, 20_000);
  served[0].child.kill('SIGKILL');
  await until('the server is gone', async () => !served[0].running(), 10_000);
  const beforeRestart = hook.unique().length;
  assert.equal(beforeRestart, 4, 'nothing new reached the webhook while it failed');

  failing = false;
  served.push(await startServe(dir, env));
  await until('every notice delivered after the restart', async () => hook.unique().length === 6 && slack.unique().length === 6, 30_000);
  const all = hook.unique().map((a) => [a.body.data.deployment.id, a.body.type]);
  assert.deepEqual(
    all.filter((g) => g[0] === jobs),
    [
      [jobs, 'deployment.approval_requested'],
      [jobs, 'deployment.rejected'],
    ],
  );
  // A notice sent just before the SIGKILL but not yet marked delivered reached its receiver
  // already; it goes again once the dead server's claim lapses (at least once, 5 s here). So
  // the outbox is watched too, not only what the receivers got.
  const watch = await openStore({ sqlitePath: path.join(dir, '.shipgate/shipgate.db') });
  try {
    await until('every delivery marked delivered in the outbox', async () => {
      const ds = await watch.outbox.deliveries();
      return ds.length === 12 && ds.every((d) => d.state === 'delivered');
    }, 30_000);
  } finally {
    await watch.close();
  }
  await served[1].stop();

  // Zero lost: nothing pending or failed in the outbox.
  const store = await openStore({ sqlitePath: path.join(dir, '.shipgate/shipgate.db') });
  try {
    const deliveries = await store.outbox.deliveries();
    assert.equal(deliveries.length, 12);
    assert.deepEqual([...new Set(deliveries.map((d) => d.state))], ['delivered']);
    const audit = JSON.stringify(await store.audit.read({ limit: 1000 }));
    const printed = served.map((s) => s.stderr()).join('') + outputs.map((o) => o.stdout + o.stderr).join('');
    for (const s of [secret, secret.slice(6), 'xoxSlackPathSecret']) {
      assert.ok(!printed.includes(s), 'a secret was printed');
      assert.ok(!audit.includes(s), 'a secret is in the audit log');
    }
  } finally {
    await store.close();
  }
});

// The delivery loop against real HTTP receivers on loopback, on the memory store and a SQLite
// file: a webhook endpoint that verifies each signature with the secret and refuses the first
// tries, and a mock of Slack. Every notice arrives once per channel (deduped by webhook-id), in
// the order of its deployment's events, after retries; filters hold except for the loud
// rollback_failed; a receiver that never recovers ends in `failed`, logged; secrets never show.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ShipgateConfig } from '../../../src/config/load.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { record } from '../../../src/features/audit/record.js';
import type { NotificationsConfig } from '../../../src/features/notifications/config.js';
import { startNotifications } from '../../../src/features/notifications/worker.js';
import { createShipgate, type Shipgate } from '../../../src/main.js';
import type { Store } from '../../../src/store/store.js';
import { testConfig } from '../../support/config.js';
import { until } from '../../support/serve.js';
import { freshStore } from '../../support/stores.js';
import { slackMock, webhookReceiver, webhookSecret } from './receivers.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const DIGEST = `sha256:${'a1'.repeat(32)}`;
const UI = 'https://shipgate.example.com';
const ROLLBACK = { reason: 'canary error rate 4.1% vs 0.2%', trigger: 'analysis', decidedAt: '2026-11-24T09:10:00.000Z', trafficRestoredAt: '2026-11-24T09:10:00.400Z', verifiedAt: '2026-11-24T09:10:02.000Z', msToTraffic: 400, msToVerified: 2000, ok: true, detail: null };

function capture() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`delivering notices on ${kind}`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanup.reverse()) await c();
    });

    async function setup(notifications: NotificationsConfig) {
      const fresh = await freshStore(kind);
      const config: ShipgateConfig = { ...testConfig({ soakMinutes: 0 }), notifications };
      const app = createShipgate({ config, store: fresh.store });
      cleanup.push(() => fresh.store.close());
      return { app, store: fresh.store };
    }

    async function requested(app: Shipgate, version: string): Promise<number> {
      await app.releases.register(as('carol'), { service: 'web', version, digest: version === '1.4.2' ? DIGEST : `sha256:${'b2'.repeat(32)}`, commit: 'deadbeef1' });
      await app.releases.verify(as('carol'), 'web', version, 'staging', null);
      return (await app.deployments.request(as('carol'), { service: 'web', version, environment: 'production' })).view.deployment.id;
    }

    test('each notice reaches each channel once, in order, after the webhook refused twice; secrets never show', async () => {
      const secret = webhookSecret();
      const hook = await webhookReceiver(secret, (n) => n <= 2);
      const slack = await slackMock();
      const quiet = await webhookReceiver(secret);
      cleanup.push(hook.close, slack.close, quiet.close);
      const slackUrl = `${slack.url}/services/T000/B000/s3cr3tSlackToken`;
      const env = { SLACK_URL: slackUrl, HOOK_SECRET: secret };
      const { app, store } = await setup({
        uiUrl: UI,
        channels: [
          { name: 'hook', type: 'webhook', url: hook.url, secretEnv: 'HOOK_SECRET' },
          { name: 'slack', type: 'slack', urlEnv: 'SLACK_URL' },
          // Only staging's approval requests: of production, it gets the failed rollback alone.
          { name: 'quiet', type: 'webhook', url: quiet.url, secretEnv: 'HOOK_SECRET', events: ['approval_requested'], environments: ['staging'] },
        ],
        retry: { attempts: 5, backoffMs: 40, maxBackoffMs: 200, timeoutMs: 2000 },
      });
      const { lines, log } = capture();
      const worker = startNotifications(app, log, { env, pollMs: 20 });
      cleanup.push(worker.stop);

      const first = await requested(app, '1.4.2');
      await app.decisions.decide(as('alice'), first, { decision: 'approve', comment: 'ok' });
      await app.decisions.decide(as('bob'), first, { decision: 'approve' });
      await app.deployments.start(as('alice'), first);
      await store.transaction(async (tx) => {
        await record(tx, new Date(), as('shipgate'), 'rollout.step_passed', `deployment:${first}`, { step: 0, weight: 10, message: 'canary as good as stable' });
        await record(tx, new Date(), as('shipgate'), 'rollout.rollback_failed', `deployment:${first}`, { ...ROLLBACK, ok: false, detail: 'the driver rollback script exited 4' });
      });
      await app.deployments.complete(as('alice'), first, 'failed', 'rollback failed');
      const second = await requested(app, '1.4.3');
      await app.decisions.decide(as('bob'), second, { decision: 'reject', comment: 'error budget spent' });

      const expected = [
        [first, 'deployment.approval_requested'],
        [first, 'deployment.approved'],
        [first, 'deployment.rollout_started'],
        [first, 'deployment.step_passed'],
        [first, 'deployment.rollback_failed'],
        [second, 'deployment.approval_requested'],
        [second, 'deployment.rejected'],
      ];
      await until('every notice delivered', async () => (await store.outbox.deliveries({ state: 'pending' })).length === 0 && hook.unique().length === expected.length && slack.unique().length === expected.length, 20_000, 20);

      // The webhook: each id once after dedupe, in event order, each signature verified.
      assert.equal(hook.forged, 0);
      assert.equal(hook.refused, 2);
      // In the order of events per deployment (deployments' notices may interleave).
      const got = hook.unique().map((a) => [a.body.data.deployment.id, a.body.type]);
      for (const id of [first, second]) assert.deepEqual(got.filter((g) => g[0] === id), expected.filter((e) => e[0] === id));
      const ids = hook.unique().map((a) => a.id);
      assert.equal(new Set(ids).size, ids.length);
      // Deployments' notices may interleave (the first was refused twice): pick by content.
      const firstRequest = hook.unique().find((a) => a.body.type === 'deployment.approval_requested' && a.body.data.deployment.id === first)!.body;
      assert.equal(firstRequest.data.deployment.url, `${UI}/ui/deployments/${first}`);
      assert.deepEqual(firstRequest.data.approvers, [
        { role: 'devops-lead', count: 1 },
        { role: 'tech-lead', count: 1 },
      ]);
      assert.match(firstRequest.data.sentence, /web 1\.4\.2 to production needs approval from devops-lead, tech-lead \(requested by carol\)/);
      const rejected = hook.unique().find((a) => a.body.type === 'deployment.rejected')!.body;
      assert.deepEqual([rejected.data.by, rejected.data.reason], ['bob', 'error budget spent']);
      const delivered = await store.outbox.deliveries({ state: 'delivered' });
      const tries = delivered.filter((d) => d.channel === 'hook').reduce((n, d) => n + d.attempts, 0);
      assert.equal(tries, expected.length + 2, 'the two refused tries were tried again');

      // Slack: Block Kit with the sentence, the fields and a button to the deployment's page.
      const all = slack.unique().map((a) => a.body);
      const loud = all.find((m) => /ROLLBACK FAILED/.test(m.text));
      const request = all.find((m) => /web 1\.4\.2 to production needs approval/.test(m.text))!;
      assert.equal(request.blocks[0].type, 'section');
      assert.match(request.blocks[0].text.text, /needs approval/);
      assert.deepEqual(
        request.blocks[1].fields.map((f: { text: string }) => f.text),
        ['*Service*\nweb', '*Version*\n1.4.2', '*Environment*\nproduction', '*Who*\ncarol'],
      );
      assert.equal(request.blocks[2].type, 'actions');
      assert.equal(request.blocks[2].elements[0].url, `${UI}/ui/deployments/${first}`);
      assert.match(loud.text, /^<!channel> :rotating_light: ROLLBACK FAILED for web 1\.4\.2 in production/);

      // The filtered channel got only the loud one.
      await until('the quiet channel has the failed rollback', async () => quiet.unique().length === 1, 5000, 20);
      assert.deepEqual(quiet.unique().map((a) => a.body.type), ['deployment.rollback_failed']);

      // Secrets: not in the logs, not in the audit log, not in the outbox.
      assert.ok(lines.some((l) => l.level === 'warn' && /receiver answered HTTP 503/.test(l.msg + JSON.stringify(l.obj))));
      const everything = JSON.stringify(lines) + JSON.stringify(await store.audit.read({ limit: 1000 })) + JSON.stringify(await store.outbox.deliveries());
      for (const s of [secret, secret.slice(6), 's3cr3tSlackToken']) assert.ok(!everything.includes(s), 'a secret leaked');
    });

    test('a receiver that never recovers: the notice is marked failed after the last try, loudly', async () => {
      const slack = await slackMock(() => true);
      cleanup.push(slack.close);
      const { app, store } = await setup({ channels: [{ name: 'ops', type: 'slack', urlEnv: 'SLACK_URL' }, { name: 'nosecret', type: 'webhook', url: slack.url, secretEnv: 'UNSET_SECRET' }], retry: { attempts: 3, backoffMs: 10, maxBackoffMs: 20, timeoutMs: 1000 } });
      const { lines, log } = capture();
      const worker = startNotifications(app, log, { env: { SLACK_URL: slack.url }, pollMs: 10 });
      cleanup.push(worker.stop);
      assert.ok(lines.some((l) => l.level === 'warn' && /UNSET_SECRET is not set/.test(l.msg)), 'a missing secret is named at start');
      await requested(app, '1.4.2');
      await until('both given up', async () => (await store.outbox.deliveries({ state: 'failed' })).length === 2, 10_000, 20);
      const failed = await store.outbox.deliveries({ state: 'failed' });
      assert.deepEqual(
        failed.map((d) => [d.channel, d.attempts, d.lastError]),
        [
          ['ops', 3, 'receiver answered HTTP 500: try again later'],
          ['nosecret', 3, 'environment variable UNSET_SECRET (the signing secret) is not set'],
        ],
      );
      assert.equal(slack.refused, 3);
      assert.equal(lines.filter((l) => l.level === 'error' && /failed for good after 3 tries/.test(l.msg)).length, 2);
    });
  });
}

test('the store going away is logged and delivery carries on when it is back', async () => {
  const fresh = await freshStore('memory');
  const secret = webhookSecret();
  const receiver = await webhookReceiver(secret);
  const store = fresh.store;
  let away = true;
  const flaky: Store = new Proxy(store, {
    get(target, prop, recv) {
      if (prop === 'outbox' && away) throw new Error('SQLITE_BUSY: database is locked');
      return Reflect.get(target, prop, recv);
    },
  });
  const config: ShipgateConfig = { ...testConfig(), notifications: { channels: [{ name: 'hook', type: 'webhook', url: receiver.url, secretEnv: 'S' }], retry: { attempts: 3, backoffMs: 10, maxBackoffMs: 20, timeoutMs: 1000 } } };
  const { lines, log } = capture();
  const worker = startNotifications({ config, store: flaky }, log, { env: { S: secret }, pollMs: 10 });
  try {
    await store.transaction((tx) => record(tx, new Date(), as('shipgate'), 'rollout.rolled_back', 'deployment:9', ROLLBACK));
    await until('the outage is logged', async () => lines.some((l) => l.level === 'error' && /cannot read or write the outbox/.test(l.msg)), 5000, 20);
    away = false;
    await until('delivered after the outage', async () => receiver.unique().length === 1, 10_000, 20);
    assert.equal(receiver.unique()[0].body.type, 'deployment.rolled_back');
    assert.match(receiver.unique()[0].body.data.sentence, /rolled back \(analysis\): canary error rate 4\.1% vs 0\.2%\. Traffic back on stable in 400 ms, verified in 2\.0 s/);
    assert.equal(lines.filter((l) => /cannot read or write the outbox/.test(l.msg)).length, 1, 'logged once per outage');
  } finally {
    await worker.stop();
    await receiver.close();
  }
});

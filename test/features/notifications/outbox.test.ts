// The outbox on every store (a SQLite file, PostgreSQL, memory): notices are written by the
// very transaction that writes their audit event, and only by it; deliveries are claimed one at
// a time per deployment and channel, in the order of the events, and a claim lapses.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Actor } from '../../../src/features/access/actor.js';
import { record } from '../../../src/features/audit/record.js';
import { createShipgate } from '../../../src/main.js';
import type { Store } from '../../../src/store/store.js';
import { testConfig } from '../../support/config.js';
import { ALL_STORE_KINDS, freshStore } from '../../support/stores.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const DIGEST = `sha256:${'a1'.repeat(32)}`;

for (const kind of ALL_STORE_KINDS) {
  describe(`the notifications outbox on ${kind}`, () => {
    const opened: Store[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });
    async function setup() {
      const fresh = await freshStore(kind);
      opened.push(fresh.store);
      const app = createShipgate({ config: testConfig({ soakMinutes: 0 }), store: fresh.store, now: () => new Date('2026-11-24T09:00:00Z') });
      return { ...fresh, app };
    }

    test('an approval request, an approval and a rejection each leave one notice in the outbox', async () => {
      const { app, store } = await setup();
      await app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: DIGEST, commit: 'deadbeef1' });
      await app.releases.verify(as('carol'), 'web', '1.4.2', 'staging', null);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const first = view.deployment.id;
      await app.decisions.decide(as('alice'), first, { decision: 'approve', comment: 'ok' });
      await app.decisions.decide(as('bob'), first, { decision: 'approve' });
      await app.deployments.cancel(as('carol'), first, 'not today');
      const second = (await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' })).view.deployment.id;
      await app.decisions.decide(as('bob'), second, { decision: 'reject', comment: 'error budget spent' });

      const events = await store.outbox.unexpanded(100);
      assert.deepEqual(
        events.map((e) => [e.event, e.subject, e.actor]),
        [
          ['approval_requested', `deployment:${first}`, 'carol'],
          ['approved', `deployment:${first}`, 'bob'],
          ['approval_requested', `deployment:${second}`, 'carol'],
          ['rejected', `deployment:${second}`, 'bob'],
        ],
      );
      assert.equal(events[3].data.comment, 'error budget spent');
    });

    test('a transaction that fails writes neither the audit event nor its notice', async () => {
      const { store, count } = await setup();
      const auditBefore = await count('audit_events');
      await assert.rejects(
        store.transaction(async (tx) => {
          await record(tx, new Date(), as('alice'), 'deployment.state', 'deployment:7', { from: 'checking', to: 'awaiting_approval', reason: null, type: 'standard' });
          assert.equal((await tx.outbox.unexpanded(10)).length, 1, 'the notice is written inside the transaction');
          throw new Error('the change after it failed');
        }),
        /the change after it failed/,
      );
      assert.equal(await count('audit_events'), auditBefore);
      assert.deepEqual(await store.outbox.unexpanded(10), []);
      // And one that commits writes both.
      await store.transaction((tx) => record(tx, new Date(), as('alice'), 'deployment.state', 'deployment:7', { from: 'checking', to: 'awaiting_approval', reason: null, type: 'standard' }));
      assert.equal(await count('audit_events'), auditBefore + 1);
      assert.equal((await store.outbox.unexpanded(10)).length, 1);
    });

    test('deliveries go one at a time per deployment and channel, in event order; claims lapse; give-ups are kept', async () => {
      const { store } = await setup();
      const t0 = '2026-11-24T09:00:00.000Z';
      const later = (s: number) => new Date(Date.parse(t0) + s * 1000).toISOString();
      await store.transaction(async (tx) => {
        for (const [subject, event] of [['deployment:1', 'approval_requested'], ['deployment:1', 'approved'], ['deployment:2', 'approval_requested']] as const) {
          await tx.outbox.enqueue({ event, at: t0, actor: 'carol', subject, data: {} });
        }
      });
      const [e1, e2, e3] = await store.outbox.unexpanded(10);
      // Event 2 waits for event 1 of its deployment to be fanned out.
      assert.equal(await store.transaction((tx) => tx.outbox.expand(e2.id, ['slack', 'hook'], t0)), true);
      assert.deepEqual(await store.transaction((tx) => tx.outbox.claim(t0, later(30), 10)), []);
      assert.equal(await store.transaction((tx) => tx.outbox.expand(e1.id, ['slack', 'hook'], t0)), true);
      assert.equal(await store.transaction((tx) => tx.outbox.expand(e1.id, ['slack', 'hook'], t0)), false, 'fanned out once');
      await store.transaction((tx) => tx.outbox.expand(e3.id, ['hook'], t0));

      const claimed = await store.transaction((tx) => tx.outbox.claim(t0, later(30), 10));
      assert.deepEqual(
        claimed.map((d) => [d.eventId, d.channel]),
        [
          [e1.id, 'slack'],
          [e1.id, 'hook'],
          [e3.id, 'hook'],
        ],
      );
      assert.equal(await store.outbox.due(t0), false, 'claimed rows are not due');
      assert.deepEqual(await store.transaction((tx) => tx.outbox.claim(later(10), later(40), 10)), [], 'held while claimed');

      const [slack1, hook1] = claimed;
      await store.transaction((tx) => tx.outbox.delivered(slack1.id, later(1)));
      await store.transaction((tx) => tx.outbox.attemptFailed(hook1.id, 'receiver answered HTTP 503', later(5)));
      // slack has event 2 next; hook's event 1 waits for its retry and holds event 2 behind it.
      const next = await store.transaction((tx) => tx.outbox.claim(later(2), later(32), 10));
      assert.deepEqual(next.map((d) => [d.eventId, d.channel]), [[e2.id, 'slack']]);
      // The claim of deployment 2's hook delivery lapsed (its server died): it is taken again.
      const retaken = await store.transaction((tx) => tx.outbox.claim(later(31), later(61), 10));
      // (slack's event 2, claimed at +2 s until +32 s, is still held.)
      assert.deepEqual(
        retaken.map((d) => [d.eventId, d.channel, d.attempts]),
        [
          [e1.id, 'hook', 1],
          [e3.id, 'hook', 0],
        ],
      );
      const hookRetry = retaken.find((d) => d.eventId === e1.id)!;
      await store.transaction((tx) => tx.outbox.attemptFailed(hookRetry.id, 'receiver answered HTTP 503', null));
      const failed = await store.outbox.deliveries({ state: 'failed' });
      assert.deepEqual(failed.map((d) => [d.eventId, d.channel, d.attempts, d.lastError]), [[e1.id, 'hook', 2, 'receiver answered HTTP 503']]);
      // A failed notice no longer holds the ones after it (and every claim has lapsed by now).
      const after = await store.transaction((tx) => tx.outbox.claim(later(62), later(92), 10));
      assert.deepEqual(after.map((d) => [d.eventId, d.channel]), [
        [e2.id, 'slack'],
        [e2.id, 'hook'],
        [e3.id, 'hook'],
      ]);
    });
  });
}

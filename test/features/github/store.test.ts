// The GitHub protection run store, held to one contract on every store: a SQLite file,
// PostgreSQL and memory. A redelivery cannot insert a second run, an answer is set once, and
// a send is claimed by one sender only.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { NewProtectionRun } from '../../../src/features/github/store.js';
import { UniqueViolation } from '../../../src/store/store.js';
import type { Store } from '../../../src/store/store.js';
import { ALL_STORE_KINDS, freshStore } from '../../support/stores.js';

const run = (deliveryId: string, o: Partial<NewProtectionRun> = {}): NewProtectionRun => ({
  deliveryId,
  repository: 'acme/web',
  githubEnvironment: 'production',
  installationId: 41234567,
  callbackUrl: 'https://api.github.com/repos/acme/web/actions/runs/1/deployment_protection_rule',
  deploymentId: null,
  receivedAt: '2026-11-24T10:00:00.000Z',
  answer: null,
  comment: null,
  ...o,
});

for (const kind of ALL_STORE_KINDS) {
  describe(`GitHub protection runs on ${kind}`, () => {
    const opened: Store[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });
    const fresh = async () => {
      const { store } = await freshStore(kind);
      opened.push(store);
      return store;
    };

    test('one run per delivery id; read back as written', async () => {
      const store = await fresh();
      const a = await store.transaction((tx) => tx.github.insertRun(run('d-1')));
      assert.equal(a.attempts, 0);
      assert.equal(a.installationId, 41234567);
      await assert.rejects(store.transaction((tx) => tx.github.insertRun(run('d-1'))), UniqueViolation);
      assert.deepEqual(await store.github.runByDelivery('d-1'), a);
      assert.equal(await store.github.runByDelivery('d-2'), null);
    });

    test('an answer is set once; a send is claimed once; answered runs leave the queue', async () => {
      const store = await fresh();
      const a = await store.transaction((tx) => tx.github.insertRun(run('d-1')));
      await store.transaction((tx) => tx.github.insertRun(run('d-2', { answer: 'rejected', comment: 'unknown repository' })));
      await store.transaction((tx) => tx.github.decide(a.id, 'approved', 'approved by alice, bob', '2026-11-24T10:01:00.000Z'));
      await store.transaction((tx) => tx.github.decide(a.id, 'rejected', 'too late', '2026-11-24T10:02:00.000Z'));
      let [first, second] = await store.github.unanswered(10);
      assert.equal(first.answer, 'approved');
      assert.equal(first.comment, 'approved by alice, bob');
      assert.equal(second.answer, 'rejected');
      assert.equal(await store.transaction((tx) => tx.github.claim(a.id, 0, '2026-11-24T10:03:00.000Z')), true);
      assert.equal(await store.transaction((tx) => tx.github.claim(a.id, 0, '2026-11-24T10:03:00.000Z')), false, 'a second sender loses');
      await store.transaction((tx) => tx.github.failed(a.id, 'GitHub answered 503', '2026-11-24T10:03:01.000Z'));
      [first] = await store.github.unanswered(10);
      assert.equal(first.attempts, 1);
      assert.equal(first.lastError, 'GitHub answered 503');
      assert.equal(first.nextAttemptAt, '2026-11-24T10:03:01.000Z');
      await store.transaction((tx) => tx.github.answered(a.id, '2026-11-24T10:03:02.000Z', 204, null));
      assert.deepEqual((await store.github.unanswered(10)).map((r) => r.deliveryId), ['d-2']);
      assert.equal(await store.transaction((tx) => tx.github.claim(a.id, 1, '2026-11-24T10:04:00.000Z')), false, 'an answered run is never sent again');
      const done = await store.github.runByDelivery('d-1');
      assert.equal(done?.answerStatus, 204);
    });
  });
}

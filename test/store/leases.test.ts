// The rollout lease contract on every store (a SQLite file, PostgreSQL, memory): a free lease is
// taken with token 1, a live one by nobody else, an expired or released one by the next holder
// with the next token (and `free` says which can be taken); renewals keep only leases still held under their fence; a check passes
// only for the holder's fence; and a rollout record saved under a lease that was taken over
// writes nothing at all. Expiry is real time on the database's clock, so the tests poll.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DEFAULT_PLAN, firstRecord } from '../../src/domain/rollout.js';
import { LeaseLost } from '../../src/features/rollouts/lease.js';
import { createShipgate } from '../../src/main.js';
import type { Store } from '../../src/store/store.js';
import { testConfig } from '../support/config.js';
import { until } from '../support/serve.js';
import { ALL_STORE_KINDS, freshStore } from '../support/stores.js';

const T = '2026-11-24T09:00:00.000Z';

/** A store with one deployment rolling out; its id. */
async function withDeployment(store: Store) {
  const r = await store.transaction((tx) => tx.releases.insert({ service: 'web', version: '2.0.0', digest: `sha256:${'2'.repeat(64)}`, commit: 'abc1234', builtAt: T, createdAt: T, createdBy: 'carol', reports: [] }));
  const d = await store.transaction((tx) =>
    tx.deployments.insert(
      { service: 'web', environment: 'production', releaseId: r.id, version: '2.0.0', type: 'standard', incident: null, state: 'rolling_out', requestedBy: 'carol', requestedAt: T, updatedAt: T, reason: null, checks: [], previousReleaseId: null },
      true,
    ),
  );
  const rec = firstRecord(DEFAULT_PLAN, false, { judge: 'state' }, new Date(T));
  return store.transaction((tx) => tx.deployments.update(d, { rollout: rec, updatedAt: T }));
}

/** Acquires inside a transaction, as the replicas do. */
const acquire = (store: Store, id: number, holder: string, ttlMs: number) => store.transaction((tx) => tx.leases.acquire(id, holder, ttlMs));

for (const kind of ALL_STORE_KINDS) {
  describe(`rollout leases on ${kind}`, () => {
    const opened: Store[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });
    const fresh = async () => {
      const s = (await freshStore(kind)).store;
      opened.push(s);
      return s;
    };

    test('taken free with token 1; a live lease by nobody else (not even its own holder name); expired, by the next holder with token 2', async () => {
      const store = await fresh();
      const d = await withDeployment(store);
      assert.deepEqual(await store.leases.free([d.id, 999]), [d.id, 999], 'no row: free');
      const a = await acquire(store, d.id, 'replica-a', 400);
      assert.ok('lease' in a);
      assert.deepEqual(await store.leases.free([d.id, 999]), [999], 'live: not free');
      assert.deepEqual({ holder: a.lease.holder, token: a.lease.token, previous: a.previousHolder }, { holder: 'replica-a', token: 1, previous: null });
      for (const who of ['replica-b', 'replica-a']) {
        const busy = await acquire(store, d.id, who, 400);
        assert.ok('heldBy' in busy, `${who} must not take a live lease`);
        assert.equal(busy.heldBy.holder, 'replica-a');
        assert.ok(busy.heldBy.expiresInMs > 0 && busy.heldBy.expiresInMs <= 400, `expires in ${busy.heldBy.expiresInMs} ms`);
      }
      const b = (await until('the lease expires and replica-b takes it', async () => {
        const r = await acquire(store, d.id, 'replica-b', 60_000);
        return 'lease' in r ? r : null;
      }, 10_000, 50))!;
      assert.deepEqual({ holder: b.lease.holder, token: b.lease.token, previous: b.previousHolder }, { holder: 'replica-b', token: 2, previous: 'replica-a' });
      await store.leases.release({ deploymentId: d.id, holder: 'replica-b', token: 2 }, false);
      assert.deepEqual(await store.leases.free([d.id]), [d.id], 'given up: free at once');
      await acquire(store, d.id, 'replica-b', 60_000);
      assert.deepEqual((await store.leases.list()).map((l) => [l.deploymentId, l.holder, l.token]), [[d.id, 'replica-b', 3]]);
    });

    test('renewals keep only what is still held under its fence; a released lease is taken at once with a higher token; an ended one leaves no row', async () => {
      const store = await fresh();
      const d = await withDeployment(store);
      const a = await acquire(store, d.id, 'replica-a', 60_000);
      assert.ok('lease' in a);
      const fenceA = { deploymentId: d.id, holder: 'replica-a', token: 1 };
      const renewed = await store.leases.renew([fenceA, { ...fenceA, token: 7 }, { ...fenceA, holder: 'replica-z' }], 60_000);
      assert.deepEqual(renewed.map((l) => [l.holder, l.token]), [['replica-a', 1]]);
      assert.ok(renewed[0].expiresAt >= a.lease.expiresAt, 'the renewal moved the expiry on');

      await store.leases.release({ ...fenceA, token: 9 }, false);
      assert.ok('heldBy' in (await acquire(store, d.id, 'replica-b', 60_000)), 'a release under another token gives nothing up');
      await store.leases.release(fenceA, false);
      const b = await acquire(store, d.id, 'replica-b', 60_000);
      assert.ok('lease' in b, 'released: taken at once');
      assert.equal(b.lease.token, 2);
      assert.deepEqual(await store.leases.renew([fenceA], 60_000), [], 'the old holder renews nothing');

      await store.leases.release({ deploymentId: d.id, holder: 'replica-b', token: 2 }, true);
      assert.deepEqual(await store.leases.list(), []);
    });

    test('check passes for the holder’s fence only; a rollout record saved under a lease taken over writes nothing', async () => {
      const store = await fresh();
      const sg = createShipgate({ config: testConfig(), store });
      const d = await withDeployment(store);
      await acquire(store, d.id, 'replica-a', 60_000);
      const fenceA = { deploymentId: d.id, holder: 'replica-a', token: 1 };
      await store.transaction((tx) => tx.leases.check(fenceA));
      await assert.rejects(store.transaction((tx) => tx.leases.check({ ...fenceA, holder: 'replica-b' })), LeaseLost);

      // Held: the save goes through and the record carries its token.
      const next = { ...d.rollout!, phase: 'weight' as const };
      const saved = await sg.rollouts.save(d, next, { event: { action: 'rollout.deployed', data: { version: '2.0.0' } }, fence: fenceA });
      assert.equal(saved.rollout!.fence, 1);

      // replica-b takes over (replica-a gave up); replica-a's late write is refused whole.
      await store.leases.release(fenceA, false);
      const b = await acquire(store, d.id, 'replica-b', 60_000);
      assert.ok('lease' in b && b.lease.token === 2);
      const events = (await sg.audit.events({ subject: `deployment:${d.id}`, limit: 100 })).length;
      await assert.rejects(
        sg.rollouts.save(saved, { ...saved.rollout!, phase: 'analyse', weight: 10 }, { event: { action: 'rollout.weight', data: { step: 1, weight: 10 } }, fence: fenceA }),
        (err: Error) => err instanceof LeaseLost && /replica-a \(token 1\) is no longer held; replica-b holds it with token 2/.test(err.message),
      );
      const after = await store.deployments.find(d.id);
      assert.equal(after!.rev, saved.rev, 'the deployment was not written');
      assert.deepEqual(after!.rollout, saved.rollout);
      assert.equal((await sg.audit.events({ subject: `deployment:${d.id}`, limit: 100 })).length, events, 'no audit event was written');
      // The new holder's write goes through.
      const ok = await sg.rollouts.save(saved, { ...saved.rollout!, phase: 'analyse', weight: 10 }, { event: { action: 'rollout.weight', data: { step: 1, weight: 10 } }, fence: { deploymentId: d.id, holder: 'replica-b', token: 2 } });
      assert.equal(ok.rollout!.fence, 2);
    });

    test('replicas racing for one expired lease: exactly one takes it', async () => {
      const store = await fresh();
      const d = await withDeployment(store);
      await acquire(store, d.id, 'replica-a', 1);
      await until('the lease expires', async () => (await store.leases.list())[0].expiresAt < Date.now() - 5, 5000, 20);
      const results = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((h) => acquire(store, d.id, h, 60_000)));
      const winners = results.filter((r) => 'lease' in r);
      assert.equal(winners.length, 1, JSON.stringify(results));
      const [lease] = await store.leases.list();
      assert.equal(lease.token, 2);
      for (const r of results) if ('heldBy' in r) assert.equal(r.heldBy.holder, lease.holder);
    });
  });
}

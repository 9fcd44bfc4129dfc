// The store contract: every store (a SQLite file, PostgreSQL, memory) keeps and finds the same
// things, refuses the same duplicates, guards revisions the same way, chains the audit log the
// same way, and rolls a failed transaction back whole.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DEFAULT_PLAN, firstRecord } from '../../src/domain/rollout.js';
import type { Deployment, Release } from '../../src/domain/types.js';
import { verifyChain } from '../../src/features/audit/log.js';
import { retrying, StaleRevisionError, type Store, UniqueViolation } from '../../src/store/store.js';
import { ALL_STORE_KINDS, freshStore } from '../support/stores.js';

const T = '2026-11-24T09:00:00.000Z';

function release(version: string, digest = `sha256:${version.replaceAll('.', '').padStart(64, 'c')}`): Omit<Release, 'id'> {
  return { service: 'web', version, digest, commit: 'abc1234', builtAt: T, createdAt: T, createdBy: 'carol', reports: [] };
}

function deployment(releaseId: number, version: string): Omit<Deployment, 'id' | 'rev' | 'rollout'> {
  return {
    service: 'web',
    environment: 'production',
    releaseId,
    version,
    type: 'standard',
    incident: null,
    state: 'requested',
    requestedBy: 'carol',
    requestedAt: T,
    updatedAt: T,
    reason: null,
    checks: [],
    previousReleaseId: null,
  };
}

for (const kind of ALL_STORE_KINDS) {
  describe(`the store contract on ${kind}`, () => {
    const opened: Store[] = [];
    after(async () => {
      for (const s of opened) await s.close();
    });
    const fresh = async () => {
      const s = (await freshStore(kind)).store;
      opened.push(s);
      return s;
    };

    test('releases: kept whole, found by version, digest and id, newest first; a second copy of a version is a UniqueViolation', async () => {
      const store = await fresh();
      const a = await store.transaction((tx) => tx.releases.insert(release('1.0.0')));
      const b = await store.transaction((tx) => tx.releases.insert({ ...release('1.1.0'), reports: [{ kind: 'tests', format: 'junit', name: 'j.xml', sha256: 'f'.repeat(64), tests: { total: 3, failures: 0, errors: 0, skipped: 1 } }] }));
      assert.deepEqual(await store.releases.find('web', '1.0.0'), a);
      assert.deepEqual(await store.releases.byId(b.id), b);
      assert.deepEqual(await store.releases.findByDigest('web', a.digest), a);
      assert.equal(await store.releases.find('web', '9.9.9'), null);
      assert.deepEqual((await store.releases.list(undefined, 10)).map((r) => r.version), ['1.1.0', '1.0.0']);
      assert.deepEqual((await store.releases.list('api', 10)).length, 0);
      await assert.rejects(store.transaction((tx) => tx.releases.insert(release('1.0.0'))), UniqueViolation);
      await store.transaction((tx) => tx.releases.insertVerification({ releaseId: a.id, environment: 'staging', verifiedAt: T, verifiedBy: 'qa', note: null }));
      await assert.rejects(store.transaction((tx) => tx.releases.insertVerification({ releaseId: a.id, environment: 'staging', verifiedAt: T, verifiedBy: 'qa', note: 'again' })), UniqueViolation);
      assert.deepEqual(await store.releases.verifications(a.id), [{ releaseId: a.id, environment: 'staging', verifiedAt: T, verifiedBy: 'qa', note: null }]);
      await store.transaction((tx) => tx.releases.setReports(a.id, b.reports));
      assert.deepEqual((await store.releases.byId(a.id))!.reports, b.reports);
    });

    test('deployments: one open per service and environment, revisions guard every write, approvals and ticks kept', async () => {
      const store = await fresh();
      const r = await store.transaction((tx) => tx.releases.insert(release('1.0.0')));
      const d = await store.transaction((tx) => tx.deployments.insert(deployment(r.id, '1.0.0'), true));
      assert.equal(d.rev, 1);
      assert.equal(d.rollout, null);
      await assert.rejects(store.transaction((tx) => tx.deployments.insert(deployment(r.id, '1.0.0'), true)), UniqueViolation);
      assert.equal((await store.deployments.findOpen('web', 'production'))!.id, d.id);
      const moved = await store.transaction((tx) => tx.deployments.update(d, { state: 'checking', checks: [{ id: 'soak', status: 'pass', reason: 'soaked' }], updatedAt: T }));
      assert.equal(moved.rev, 2);
      assert.deepEqual(await store.deployments.find(d.id), moved);
      await assert.rejects(store.transaction((tx) => tx.deployments.update(d, { state: 'cancelled', updatedAt: T })), StaleRevisionError, 'a stale revision is refused');
      const record = { ...firstRecord(DEFAULT_PLAN, false, { judge: 'state' }, new Date(T)), phase: 'done' as const };
      const ended = await store.transaction((tx) => tx.deployments.update(moved, { state: 'succeeded', open: false, rollout: record, updatedAt: T }));
      assert.deepEqual(ended.rollout, record);
      assert.deepEqual((await store.deployments.find(d.id))!.rollout, record, 'the rollout record comes back whole');
      assert.equal(await store.deployments.findOpen('web', 'production'), null, 'an ended deployment frees its key');
      assert.equal((await store.deployments.lastSucceeded('web', 'production'))!.id, d.id);
      assert.equal(await store.deployments.succeededWith(r.id, 'production'), true);
      assert.equal(await store.deployments.succeededWith(r.id, 'staging'), false);
      const next = await store.transaction((tx) => tx.deployments.insert(deployment(r.id, '1.0.0'), true));
      assert.deepEqual((await store.deployments.list({ states: ['requested'] })).map((x) => x.id), [next.id]);
      assert.deepEqual((await store.deployments.list({ service: 'web', limit: 1 })).map((x) => x.id), [next.id]);

      const a = await store.transaction((tx) => tx.deployments.insertApproval({ deploymentId: next.id, user: 'alice', role: 'lead', decision: 'approve', comment: null, at: T, authMethod: 'token' }));
      await store.transaction((tx) => tx.deployments.markApprovalLapsed(a.id, T));
      assert.deepEqual(await store.deployments.approvals(next.id), [{ ...a, lapsedAt: T }]);
      await store.transaction((tx) => tx.deployments.insertTick({ deploymentId: next.id, item: 'plan', user: 'bob', note: null, at: T }));
      await assert.rejects(store.transaction((tx) => tx.deployments.insertTick({ deploymentId: next.id, item: 'plan', user: 'bob', note: null, at: T })), UniqueViolation);
      assert.deepEqual(await store.deployments.ticks(next.id), [{ deploymentId: next.id, item: 'plan', user: 'bob', note: null, at: T }]);
    });

    test('access: a token is found by its hash, revoked once', async () => {
      const store = await fresh();
      const t = await store.transaction((tx) => tx.access.insertToken('alice', 'ci', 'a'.repeat(64), T));
      assert.deepEqual(await store.access.tokenByHash('a'.repeat(64)), t);
      assert.equal(await store.access.tokenByHash('b'.repeat(64)), null);
      await assert.rejects(store.transaction((tx) => tx.access.insertToken('bob', 'x', 'a'.repeat(64), T)), UniqueViolation);
      assert.equal(await store.transaction((tx) => tx.access.revokeToken(t.id, T)), true);
      assert.equal(await store.transaction((tx) => tx.access.revokeToken(t.id, T)), false);
      assert.deepEqual(await store.access.tokens(), [{ ...t, revokedAt: T }]);
    });

    test('audit: appends chain to the head, read back by subject and sequence, verified', async () => {
      const store = await fresh();
      const first = await store.transaction((tx) => tx.audit.append([{ actor: 'alice', action: 'release.registered', subject: 'release:web@1', data: { n: 1 }, at: T }]));
      const more = await store.transaction((tx) =>
        tx.audit.append([
          { actor: 'bob', action: 'deployment.requested', subject: 'deployment:1', data: { n: 2 }, at: T },
          { actor: 'bob', action: 'deployment.state', subject: 'deployment:1', data: { n: 3 }, at: T },
        ]),
      );
      assert.deepEqual([...first, ...more].map((e) => e.seq), [1, 2, 3]);
      assert.equal(more[0].prevHash, first[0].hash);
      assert.deepEqual(await store.audit.head(), { seq: 3, hash: more[1].hash });
      assert.deepEqual(await store.audit.read({ subject: 'deployment:1' }), more);
      assert.deepEqual(await store.audit.read({ afterSeq: 2, limit: 5 }), [more[1]]);
      const pages: number[] = [];
      for await (const page of store.audit.pages(2)) pages.push(page.length);
      assert.deepEqual(pages, [2, 1]);
      assert.deepEqual(await verifyChain(store.audit), { ok: true, events: 3, lastSeq: 3, lastHash: more[1].hash });
    });

    test('a transaction that fails leaves nothing behind, its audit events included', async () => {
      const store = await fresh();
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.releases.insert(release('2.0.0'));
          await tx.audit.append([{ actor: 'carol', action: 'release.registered', subject: 'release:web@2.0.0', at: T }]);
          throw new Error('the change fails half-way');
        }),
        /half-way/,
      );
      assert.equal(await store.releases.find('web', '2.0.0'), null);
      assert.deepEqual(await store.audit.read({}), []);
      assert.deepEqual(await verifyChain(store.audit), { ok: true, events: 0, lastSeq: 0, lastHash: '0'.repeat(64) });
    });

    test('writers racing on one deployment: a stale write is refused, a retried one lands, none applies twice', async () => {
      const store = await fresh();
      const r = await store.transaction((tx) => tx.releases.insert(release('3.0.0')));
      const d = await store.transaction((tx) => tx.deployments.insert(deployment(r.id, '3.0.0'), true));
      const writers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          retrying(() =>
            store.transaction(async (tx) => {
              const now = (await tx.deployments.find(d.id))!;
              return tx.deployments.update(now, { reason: `${now.reason ?? ''}${i}`, updatedAt: T });
            }),
          ),
        ),
      );
      assert.equal(writers.length, 6);
      const last = (await store.deployments.find(d.id))!;
      assert.equal(last.rev, 7, 'six writes, each applied once');
      assert.deepEqual([...last.reason!].sort(), ['0', '1', '2', '3', '4', '5'], 'each writer saw the writes before it');
    });
  });
}

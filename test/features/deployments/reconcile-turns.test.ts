// The reconciler shares the server's turns: on SQLite a refresh runs start to finish without
// waiting on anything, so the reconciler going over every open deployment takes a turn of the
// event loop before each one (src/store/turns.ts), and an approval arriving meanwhile is
// answered before it ends instead of after all of them.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Actor } from '../../../src/features/access/actor.js';
import { createShipgate } from '../../../src/main.js';
import { testConfig } from '../../support/config.js';
import { freshStore } from '../../support/stores.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const SERVICES = 40;
const closing: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closing) await close();
});

test('an approval made while the reconciler goes over 40 open deployments on SQLite is answered before the reconciler ends', async () => {
  const database = await freshStore('sqlite');
  closing.push(() => database.store.close());
  const base = testConfig({ soakMinutes: 0 });
  const config = { ...base, services: Array.from({ length: SERVICES }, (_, i) => ({ name: `svc-${i}`, description: null })) };
  const app = createShipgate({ config, store: database.store, now: () => new Date('2026-11-24T09:00:00Z') });
  const ids: number[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const service = `svc-${i}`;
    await app.releases.register(as('carol'), { service, version: '1.0.0', digest: `sha256:${i.toString(16).padStart(64, '0')}`, commit: 'deadbeef1' });
    await app.releases.verify(as('carol'), service, '1.0.0', 'staging');
    ids.push((await app.deployments.request(as('carol'), { service, version: '1.0.0', environment: 'production' })).view.deployment.id);
  }
  assert.equal((await app.deployments.list({ environment: 'production', states: ['awaiting_approval'] })).length, SERVICES);

  let reconcilerEnded = false;
  const reconciling = app.deployments.reconcile().then(() => {
    reconcilerEnded = true;
  });
  // The approval arrives on the next turn of the event loop, as a request would.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const approved = await app.decisions.decide(as('alice'), ids[SERVICES - 1], { decision: 'approve' });
  const answeredWhileReconciling = !reconcilerEnded;
  await reconciling;
  assert.equal(approved.view.approvals.length, 1);
  assert.equal(approved.view.approvals[0].user, 'alice');
  assert.equal(answeredWhileReconciling, true, 'the approval waited for the whole reconcile');
});

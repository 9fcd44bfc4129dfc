// The rollout controller and the calendar: a deployment approved during a freeze waits, and
// its rollout starts by itself on the first reconcile after the freeze lifts. The target is
// the in-memory driver (src/drivers/memory), the store a real SQLite file, the clock fixed.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { DEFAULT_PLAN } from '../../../src/domain/rollout.js';
import { MemoryDriver } from '../../../src/drivers/memory/driver.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { canaryAnalysis } from '../../../src/features/rollouts/analysis.js';
import { RolloutController } from '../../../src/features/rollouts/controller.js';
import { createShipgate, sqlStoreOn } from '../../../src/main.js';
import type { Database } from '../../../src/store/db.js';
import { testConfig } from '../../support/config.js';
import { freshDatabase } from '../../support/databases.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const opened: Database[] = [];
after(async () => {
  for (const d of opened) await d.close();
});

test('a deployment approved during a freeze starts rolling out when the freeze lifts, not before', async () => {
  const database = await freshDatabase('sqlite');
  opened.push(database);
  const clock = { now: new Date('2026-11-27T09:00:00Z') };
  const config = testConfig({
    soakMinutes: 0,
    calendar: { timezone: 'Europe/Amsterdam', windows: [], freezes: [{ name: 'black-friday', kind: 'once', from: '2026-11-27T00:00', to: '2026-11-27T14:00' }] },
  });
  const plan = { ...DEFAULT_PLAN, postDeployChecks: [] };
  config.environments.find((e) => e.name === 'production')!.rollout = { driver: { kind: 'memory', settings: null },
    metrics: null, plan, servicePlans: {} };
  const app = createShipgate({ config, store: sqlStoreOn(database), now: () => clock.now });
  const driver = new MemoryDriver();
  const controller = new RolloutController({
    records: app.rollouts,
    target: () => ({ driver, metrics: null, plan }),
    analysis: canaryAnalysis(),
    smoke: async () => [],
    now: () => clock.now,
  });

  await app.releases.register(as('carol'), { service: 'web', version: '1.0.0', digest: `sha256:${'c3'.repeat(32)}`, commit: 'abc1234' });
  await app.releases.verify(as('carol'), 'web', '1.0.0', 'staging');
  const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.0.0', environment: 'production' });
  await app.decisions.decide(as('alice'), view.deployment.id, { decision: 'approve' });
  const last = await app.decisions.decide(as('bob'), view.deployment.id, { decision: 'approve' });
  assert.equal(last.view.deployment.state, 'waiting_for_window');
  assert.deepEqual((await app.rollouts.work()).map((d) => d.id), [view.deployment.id], 'the controller has it in its work list');

  const frozen = await controller.step(view.deployment.id);
  assert.equal(frozen.acted, false);
  assert.match(frozen.message, /frozen by 'black-friday'/);
  assert.deepEqual(driver.target('web', 'production').actions, [], 'nothing deployed during the freeze');

  clock.now = new Date('2026-11-27T13:01:00Z'); // 14:01 in Amsterdam
  const started = await controller.step(view.deployment.id);
  assert.equal(started.acted, true);
  assert.match(started.message, /rollout started/);
  assert.equal((await app.deployments.get(view.deployment.id)).deployment.state, 'rolling_out');
  const done = await controller.run(view.deployment.id, { pollMs: 1, deadlineMs: 10_000 });
  assert.equal(done.state, 'succeeded');
  assert.deepEqual(driver.target('web', 'production').actions, ['deploy 1.0.0', 'weight 100', 'promote 1.0.0', 'finalize']);
});

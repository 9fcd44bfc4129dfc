// The rollout controller and the calendar: a deployment approved during a freeze waits, and
// its rollout starts by itself on the first reconcile after the freeze lifts. The target is
// the in-memory driver (src/drivers/memory), the store a real SQLite file, the clock fixed.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type Actor, Shipgate } from '../../src/app/shipgate.js';
import { MemoryDriver } from '../../src/drivers/memory/driver.js';
import { RolloutController } from '../../src/rollout/controller.js';
import { canaryAnalysis } from '../../src/rollout/judge.js';
import { DEFAULT_PLAN } from '../../src/rollout/types.js';
import type { Database } from '../../src/store/db.js';
import { testConfig } from '../support/config.js';
import { freshDatabase } from '../support/databases.js';

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
  config.environments.find((e) => e.name === 'production')!.rollout = { driver: { kind: 'local' }, plan, servicePlans: {} };
  const app = new Shipgate({ config, database, now: () => clock.now });
  const driver = new MemoryDriver();
  const controller = new RolloutController({
    app,
    target: () => ({ driver, metrics: null, plan }),
    analysis: canaryAnalysis(),
    smoke: async () => [],
    now: () => clock.now,
  });

  await app.registerRelease(as('carol'), { service: 'web', version: '1.0.0', digest: `sha256:${'c3'.repeat(32)}`, commit: 'abc1234' });
  await app.verifyRelease(as('carol'), 'web', '1.0.0', 'staging');
  const { view } = await app.requestDeployment(as('carol'), { service: 'web', version: '1.0.0', environment: 'production' });
  await app.decide(as('alice'), view.deployment.id, { decision: 'approve' });
  const last = await app.decide(as('bob'), view.deployment.id, { decision: 'approve' });
  assert.equal(last.view.deployment.state, 'waiting_for_window');
  assert.deepEqual((await app.rolloutWork()).map((d) => d.id), [view.deployment.id], 'the controller has it in its work list');

  const frozen = await controller.step(view.deployment.id);
  assert.equal(frozen.acted, false);
  assert.match(frozen.message, /frozen by 'black-friday'/);
  assert.deepEqual(driver.target('web', 'production').actions, [], 'nothing deployed during the freeze');

  clock.now = new Date('2026-11-27T13:01:00Z'); // 14:01 in Amsterdam
  const started = await controller.step(view.deployment.id);
  assert.equal(started.acted, true);
  assert.match(started.message, /rollout started/);
  assert.equal((await app.getDeployment(view.deployment.id)).deployment.state, 'rolling_out');
  const done = await controller.run(view.deployment.id, { pollMs: 1, deadlineMs: 10_000 });
  assert.equal(done.state, 'succeeded');
  assert.deepEqual(driver.target('web', 'production').actions, ['deploy 1.0.0', 'weight 100', 'promote 1.0.0', 'finalize']);
});

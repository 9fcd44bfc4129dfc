// The rollout controller under leases, on the memory store and driver: two replicas (two
// RolloutLeases on one store, each with its own controller) share one deployment. A replica
// that was paused past its renew deadline wakes and neither touches the target nor writes; one
// that does not know it lost the lease (its clock ran slow) is refused by the store's fence, with
// nothing written; a replica that stops hands its leases over at once. The leases' own expiry is
// real time (short leases), each replica's monotonic clock is the test's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_PLAN, type RolloutPlan } from '../../../src/domain/rollout.js';
import { MemoryDriver } from '../../../src/drivers/memory/driver.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { LeaseLost } from '../../../src/features/rollouts/lease.js';
import { checkLeaseSettings, RolloutLeases } from '../../../src/features/rollouts/lease-keeper.js';
import { buildController, driveRollouts } from '../../../src/features/rollouts/runner.js';
import { createShipgate, inMemoryStore } from '../../../src/main.js';
import { leaseSettingsFrom } from '../../../src/server/serve.js';
import { testConfig } from '../../support/config.js';
import { until } from '../../support/serve.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const PLAN: RolloutPlan = { ...DEFAULT_PLAN, steps: [10, 50, 100], minStepSeconds: 0, maxStepSeconds: 300, postDeployChecks: [0], smoke: [] };
const SHORT = { ttlMs: 300, renewEveryMs: 50, renewDeadlineMs: 200 };
const LONG = { ttlMs: 60_000, renewEveryMs: 1000, renewDeadlineMs: 30_000 };

async function world(plan: RolloutPlan = PLAN) {
  const clock = { now: new Date('2026-11-24T10:00:00Z') };
  const config = testConfig({ soakMinutes: 0, approvals: [], autoApprove: true, emergency: { approvals: [], mayBypass: [] } });
  config.environments.find((e) => e.name === 'production')!.rollout = { driver: { kind: 'memory', settings: null }, metrics: null, plan, servicePlans: {} };
  const sg = createShipgate({ config, store: inMemoryStore(), now: () => clock.now });
  const driver = new MemoryDriver();
  const drivers = new Map([['production', driver]]);
  /** A replica: its leases (with a clock the test moves) and its controller. */
  const replica = (name: string, settings = SHORT, own: 'test clock' | 'real clock' = 'test clock') => {
    const clock = { ms: 0 };
    const leases = new RolloutLeases(sg.store, name, settings, sg.now, own === 'test clock' ? () => clock.ms : undefined);
    return { name, clock, leases, controller: buildController(sg, { drivers, leases }) };
  };
  const release = async (version: string) => {
    await sg.releases.register(as('carol'), { service: 'web', version, digest: `sha256:${version.replaceAll('.', '').padStart(64, 'd')}`, commit: 'abc1234' });
    await sg.releases.verify(as('carol'), 'web', version, 'staging');
    return (await sg.deployments.request(as('carol'), { service: 'web', version, environment: 'production' })).view.deployment.id;
  };
  const actions = () => driver.target('web', 'production').actions;
  const events = async (id: number) => (await sg.audit.events({ subject: `deployment:${id}`, limit: 1000 })).map((e) => ({ action: e.action, data: e.data as Record<string, unknown> }));
  return { sg, clock, driver, replica, release, actions, events };
}

/** Takes the lease as soon as it is free (leases expire in real time). */
const takeWhenFree = (r: { leases: RolloutLeases }, id: number) => until(`the lease of deployment ${id} free`, () => r.leases.take(id), 5000, 20);

describe('the rollout controller under leases', () => {
  test('a replica paused past its renew deadline wakes to a takeover: it neither acts on the target nor writes', async () => {
    const w = await world();
    const id = await w.release('1.0.0');
    const a = w.replica('replica-a');
    const b = w.replica('replica-b', LONG, 'real clock');
    assert.equal(await a.leases.take(id), true);
    assert.equal(await b.leases.take(id), false, 'a live lease is not taken');
    await a.controller.step(id); // starts the rollout
    await a.controller.step(id); // deploys
    assert.deepEqual(w.actions(), ['deploy 1.0.0']);

    // replica-a freezes: its clock moves on past the renew deadline, its lease expires.
    a.clock.ms += 11_000;
    await takeWhenFree(b, id);
    const before = await w.sg.rollouts.get(id);
    const eventsBefore = (await w.events(id)).length;
    await assert.rejects(a.controller.step(id), LeaseLost);
    assert.deepEqual(w.actions(), ['deploy 1.0.0'], 'the target was not touched');
    assert.equal((await w.sg.rollouts.get(id)).rev, before.rev, 'nothing written');
    assert.equal((await w.events(id)).length, eventsBefore);
    assert.equal(a.leases.holds(id), false, 'replica-a let the lease go');

    // replica-b drives it to the end; the takeover is in the audit log with its token.
    for (let i = 0; i < 20 && !(await b.controller.step(id)).done; i++);
    assert.equal((await w.sg.rollouts.get(id)).state, 'succeeded');
    assert.deepEqual(w.actions(), ['deploy 1.0.0', 'weight 100', 'promote 1.0.0', 'finalize']);
    const taken = (await w.events(id)).filter((e) => e.action === 'rollout.lease_taken').map((e) => e.data);
    assert.deepEqual(taken, [
      { holder: 'replica-a', token: 1, previousHolder: null, via: 'system' },
      { holder: 'replica-b', token: 2, previousHolder: 'replica-a', via: 'system' },
    ]);
    assert.equal((await w.sg.rollouts.get(id)).rollout!.fence, 2, 'the record names the token it was written under');
  });

  test('a replica that does not know it lost its lease is refused by the store: nothing written', async () => {
    const w = await world();
    const id0 = await w.release('1.0.0');
    const first = w.replica('replica-0');
    await first.leases.take(id0);
    for (let i = 0; i < 20 && !(await first.controller.step(id0)).done; i++);
    await first.leases.release(id0, true);

    const id = await w.release('2.0.0');
    const a = w.replica('replica-a');
    const c = w.replica('replica-c');
    await a.leases.take(id);
    await a.controller.step(id);
    await a.controller.step(id);
    // The lease moves on behind replica-a's back (its clock says it still may act).
    await w.sg.store.leases.release({ deploymentId: id, holder: 'replica-a', token: 1 }, false);
    assert.equal(await c.leases.take(id), true);
    const before = await w.sg.rollouts.get(id);
    const eventsBefore = (await w.events(id)).length;
    await assert.rejects(a.controller.step(id), /replica-a \(token 1\) is no longer held; replica-c holds it with token 2/);
    const after = await w.sg.rollouts.get(id);
    assert.equal(after.rev, before.rev, 'the deployment was not written');
    assert.deepEqual(after.rollout, before.rollout);
    assert.equal((await w.events(id)).length, eventsBefore, 'no audit event written');
  });

  test('two replicas driving together: each deployment stepped by its holder only; a replica that stops hands its leases over at once', async () => {
    // The last post-deploy check is an hour after promotion: the rollout waits there.
    const w = await world({ ...PLAN, postDeployChecks: [0, 3600] });
    // Real clocks and long leases here: the loops renew as they run.
    const ra = new RolloutLeases(w.sg.store, 'replica-a', LONG, w.sg.now);
    const rb = new RolloutLeases(w.sg.store, 'replica-b', LONG, w.sg.now);
    const gauge: string[] = [];
    for (const r of [ra, rb]) r.onHeld = (deploymentId, held) => gauge.push(`${r.holder} ${deploymentId} ${held ? 'held' : 'let go'}`);
    const id = await w.release('1.0.0');
    const stopA = new AbortController();
    const loopA = driveRollouts(w.sg, buildController(w.sg, { drivers: new Map([['production', w.driver]]), leases: ra }), { signal: stopA.signal, leases: ra, pollMs: 10 });
    await until('replica-a holds the lease', async () => ra.holds(id), 5000, 10);
    // replica-a stops before the rollout ends (a deploy, a restart): its lease is given up.
    stopA.abort();
    await loopA;
    const stopB = new AbortController();
    const loopB = driveRollouts(w.sg, buildController(w.sg, { drivers: new Map([['production', w.driver]]), leases: rb }), { signal: stopB.signal, leases: rb, pollMs: 10 });
    try {
      await until('replica-b holds the lease', async () => rb.holds(id), 5000, 10);
      w.clock.now = new Date(w.clock.now.getTime() + 3601_000);
      await until('the rollout ends under replica-b', async () => (await w.sg.rollouts.get(id)).state === 'succeeded', 10_000, 20);
    } finally {
      stopB.abort();
      await loopB;
    }
    const taken = (await w.events(id)).filter((e) => e.action === 'rollout.lease_taken').map((e) => e.data);
    assert.deepEqual(taken, [
      { holder: 'replica-a', token: 1, previousHolder: null, via: 'system' },
      { holder: 'replica-b', token: 2, previousHolder: 'replica-a', via: 'system' },
    ], 'replica-b took over without waiting for the 60 s lease to expire');
    const weights = (await w.events(id)).filter((e) => e.action === 'rollout.weight');
    assert.equal(weights.length, 1, 'the one step was written once');
    assert.deepEqual(await w.sg.store.leases.list(), [], 'an ended rollout leaves no lease');
    assert.deepEqual(gauge, [`replica-a ${id} held`, `replica-a ${id} let go`, `replica-b ${id} held`, `replica-b ${id} let go`], 'the lease-holder hook saw each change');
  });

  test('lease settings: a holder must give up before its lease expires, and renew before giving up', () => {
    assert.deepEqual(leaseSettingsFrom({ reconcileEvery: '15' }, {}), { ttlMs: 15_000, renewEveryMs: 2000, renewDeadlineMs: 10_000 });
    assert.deepEqual(leaseSettingsFrom({ reconcileEvery: '15', leaseTtl: '6' }, { SHIPGATE_LEASE_RENEW: '1', SHIPGATE_LEASE_DEADLINE: '4' }), { ttlMs: 6000, renewEveryMs: 1000, renewDeadlineMs: 4000 });
    assert.throws(() => leaseSettingsFrom({ reconcileEvery: '15', leaseTtl: '8' }, {}), /renew every 2 s < deadline 10 s < ttl 8 s/);
    assert.throws(() => leaseSettingsFrom({ reconcileEvery: '15', leaseRenew: 'soon' }, {}), /--lease-renew must be a positive number of seconds \(got 'soon'\)/);
    assert.throws(() => checkLeaseSettings({ ttlMs: 15_000, renewEveryMs: 0, renewDeadlineMs: 10_000 }), /lease renew must be a positive number of seconds \(got 0\)/);
  });
});

// The whole gate on every store: a SQLite file, PostgreSQL and memory, each test on a fresh one.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DEFAULT_PLAN, firstRecord } from '../../../src/domain/rollout.js';
import type { Policy } from '../../../src/domain/types.js';
import { ConflictError, ForbiddenError, InputError, NotFoundError, UnauthorizedError } from '../../../src/errors.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { createShipgate, type Shipgate } from '../../../src/main.js';
import type { Store } from '../../../src/store/store.js';
import { testConfig } from '../../support/config.js';
import { ALL_STORE_KINDS, type FreshStore, freshStore } from '../../support/stores.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const DIGEST = `sha256:${'a1'.repeat(32)}`;
const TRIVY_CLEAN = JSON.stringify({ Results: [{ Target: 'app', Vulnerabilities: [{ VulnerabilityID: 'CVE-1', Severity: 'HIGH' }] }] });

for (const kind of ALL_STORE_KINDS) {
  describe(`shipgate on ${kind}`, () => {
    const opened: Store[] = [];
    after(async () => {
      for (const d of opened) await d.close();
    });

    async function setup(production: Partial<Policy> = {}, start = '2026-11-24T09:00:00Z') {
      const database = await freshStore(kind);
      opened.push(database.store);
      const clock = { now: new Date(start) };
      const app = createShipgate({ config: testConfig(production), store: database.store, now: () => clock.now });
      const advance = (minutes: number) => {
        clock.now = new Date(clock.now.getTime() + minutes * 60_000);
      };
      return { app, database, clock, advance };
    }

    async function releasedToStaging(app: Shipgate, version = '1.4.2') {
      await app.releases.register(as('carol'), {
        service: 'web',
        version,
        digest: version === '1.4.2' ? DIGEST : `sha256:${'b2'.repeat(32)}`,
        commit: 'deadbeef1',
        reports: [{ name: 'trivy.json', content: TRIVY_CLEAN }],
      });
      await app.releases.verify(as('carol'), 'web', version, 'staging', 'e2e suite green');
    }

    async function count(database: FreshStore, table: 'releases' | 'deployments' | 'approvals' | 'audit_events') {
      return database.count(table);
    }

    test('a release is immutable: bad versions, bad digests and re-registration are refused', async () => {
      const { app, database } = await setup();
      await releasedToStaging(app);
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: 'latest', digest: DIGEST, commit: 'deadbeef1' }),
        (e: Error) => e instanceof InputError && /'latest' is a mutable tag/.test(e.message),
      );
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: 'feature/login', digest: DIGEST, commit: 'deadbeef1' }),
        (e: Error) => e instanceof InputError && /branch name/.test(e.message),
      );
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: '1.4.3', digest: 'sha256:xyz', commit: 'deadbeef1' }),
        (e: Error) => e instanceof InputError && /digest must be sha256:<64 hex characters>/.test(e.message),
      );
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: `sha256:${'ff'.repeat(32)}`, commit: 'deadbeef1' }),
        (e: Error) => e instanceof ConflictError && /already registered with digest sha256:a1a1/.test(e.message),
      );
      // The same build registered again (a CI retry) is a no-op that succeeds...
      const retry = await app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: DIGEST, commit: 'deadbeef1', reports: [{ name: 'trivy.json', content: TRIVY_CLEAN }] });
      assert.equal(retry.alreadyRegistered, true);
      assert.equal(retry.release.version, '1.4.2');
      // ...but not with another commit or with reports it does not have,
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: DIGEST, commit: 'cafef00d' }),
        (e: Error) => e instanceof ConflictError && /already registered with commit deadbeef1, not cafef00d/.test(e.message),
      );
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: DIGEST, commit: 'deadbeef1', reports: [{ name: 'grype.json', content: JSON.stringify({ matches: [] }) }] }),
        (e: Error) => e instanceof ConflictError && /already registered, without grype\.json; add reports with `shipgate release attach`/.test(e.message),
      );
      // ...and one build does not get a second version.
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: '1.4.3', digest: DIGEST, commit: 'deadbeef1' }),
        (e: Error) => e instanceof ConflictError && /sha256:a1a1.* is already registered as web 1\.4\.2; one build has one version/.test(e.message),
      );
      const events = await app.audit.events({ subject: 'release:web@1.4.2', limit: 100 });
      assert.equal(events.filter((e) => e.action === 'release.registered').length, 1, 'the no-op writes no audit event');
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'nope', version: '1.0.0', digest: DIGEST, commit: 'deadbeef1' }),
        (e: Error) => e instanceof NotFoundError && /unknown service 'nope'; known: web, api/.test(e.message),
      );
      await assert.rejects(
        app.releases.register(as('mallory'), { service: 'web', version: '9.9.9', digest: DIGEST, commit: 'deadbeef1' }),
        UnauthorizedError,
      );
      await assert.rejects(
        app.releases.register(as('carol'), { service: 'web', version: '2.0.0', digest: DIGEST, commit: 'deadbeef1', reports: [{ name: 'scan.json', content: '{not json' }] }),
        InputError,
      );
      assert.equal(await count(database, 'releases'), 1, 'nothing half-written');
      const r = await app.releases.get('web', '1.4.2');
      assert.equal(r.reports[0].vulnerabilities?.high, 1);
    });

    test('the seed story: requested, approved by one devops lead and one tech lead, audited', async () => {
      const { app, advance } = await setup();
      await releasedToStaging(app);
      advance(61);
      const { view, gate } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.equal(view.deployment.state, 'awaiting_approval');
      assert.equal(gate.outcome, 'blocked');
      assert.match(view.waitingFor!, /approvals: approvals 0\/2/);
      const id = view.deployment.id;

      await assert.rejects(app.decisions.decide(as('carol'), id, { decision: 'approve' }), (e: Error) => e instanceof ForbiddenError && /requested deployment .* cannot approve/.test(e.message));
      await assert.rejects(app.decisions.decide(as('dana'), id, { decision: 'approve' }), (e: Error) => e instanceof ForbiddenError && /holds no approver role here/.test(e.message));

      const first = await app.decisions.decide(as('alice'), id, { decision: 'approve', comment: 'looks good' });
      assert.equal(first.view.deployment.state, 'awaiting_approval');
      await assert.rejects(app.decisions.decide(as('alice'), id, { decision: 'approve' }), (e: Error) => e instanceof ConflictError && /already approved/.test(e.message));

      const second = await app.decisions.decide(as('bob'), id, { decision: 'approve' });
      assert.equal(second.view.deployment.state, 'approved');
      assert.deepEqual(second.view.approvals.map((a) => [a.user, a.role, a.authMethod]), [
        ['alice', 'devops-lead', 'local'],
        ['bob', 'tech-lead', 'local'],
      ]);

      const events = await app.audit.events({ subject: `deployment:${id}`, limit: 100 });
      const actions = events.map((e) => e.action);
      assert.ok(actions.includes('deployment.requested'));
      assert.ok(actions.includes('gate.evaluated'));
      assert.equal(actions.filter((a) => a === 'approval.approved').length, 2);
      const states = events.filter((e) => e.action === 'deployment.state').map((e) => (e.data as { to: string }).to);
      assert.deepEqual(states, ['checking', 'awaiting_approval', 'approved']);
      const verify = await app.audit.verify();
      assert.equal(verify.ok, true);
    });

    test('an approval expires after the TTL and must be given again', async () => {
      const { app, advance } = await setup();
      await releasedToStaging(app);
      advance(61);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      await app.decisions.decide(as('alice'), view.deployment.id, { decision: 'approve' });
      advance(24 * 60 + 1);
      const afterBob = await app.decisions.decide(as('bob'), view.deployment.id, { decision: 'approve' });
      assert.equal(afterBob.view.deployment.state, 'awaiting_approval');
      assert.match(afterBob.view.waitingFor!, /devops-lead 0\/1/);
      assert.ok(afterBob.view.approvals.find((a) => a.user === 'alice')!.lapsedAt);
      const events = await app.audit.events({ subject: `deployment:${view.deployment.id}`, limit: 100 });
      assert.equal(events.filter((e) => e.action === 'approval.expired').length, 1);
      const again = await app.decisions.decide(as('alice'), view.deployment.id, { decision: 'approve' });
      assert.equal(again.view.deployment.state, 'approved');
    });

    test('a rejection needs a reason and ends the deployment; a finished deployment takes no approvals', async () => {
      const { app, advance } = await setup();
      await releasedToStaging(app);
      advance(61);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const id = view.deployment.id;
      await assert.rejects(app.decisions.decide(as('bob'), id, { decision: 'reject' }), (e: Error) => e instanceof InputError && /needs a reason/.test(e.message));
      const r = await app.decisions.decide(as('bob'), id, { decision: 'reject', comment: 'no load test' });
      assert.equal(r.view.deployment.state, 'rejected');
      assert.equal(r.view.deployment.reason, 'rejected by bob (tech-lead): no load test');
      await assert.rejects(app.decisions.decide(as('alice'), id, { decision: 'approve' }), (e: Error) => e instanceof ConflictError && /is rejected: it no longer takes approvals/.test(e.message));
      // the environment is free again
      const next = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.equal(next.view.deployment.state, 'awaiting_approval');
    });

    test('one open deployment per service and environment', async () => {
      const { app, database } = await setup();
      await releasedToStaging(app);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      await assert.rejects(
        app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' }),
        (e: Error) => e instanceof ConflictError && new RegExp(`already has deployment ${view.deployment.id} .* open in production`).test(e.message),
      );
      assert.equal(await count(database, 'deployments'), 1);
      await assert.rejects(app.deployments.cancel(as('gina'), view.deployment.id, 'not mine'), ForbiddenError);
      const cancelled = await app.deployments.cancel(as('carol'), view.deployment.id, 'wrong day');
      assert.equal(cancelled.deployment.state, 'cancelled');
      assert.equal(cancelled.deployment.reason, 'wrong day');
      const again = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.notEqual(again.view.deployment.id, view.deployment.id);
    });

    test('a hotfix needs an incident and the emergency approver, and its bypasses are recorded', async () => {
      const { app } = await setup(
        {
          calendar: {
            timezone: 'Europe/Amsterdam',
            windows: [{ days: ['tue', 'wed', 'thu'], start: '10:00', end: '14:00' }],
            freezes: [{ name: 'black-friday', kind: 'once', from: '2026-11-26', to: '2026-11-30' }],
          },
        },
        '2026-11-28T22:00:00Z',
      );
      await releasedToStaging(app);
      await assert.rejects(
        app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production', type: 'hotfix' }),
        (e: Error) => e instanceof InputError && /must name the incident/.test(e.message),
      );
      const standard = await app.deployments.check(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.equal(standard.checks.find((c) => c.id === 'freeze')!.status, 'pending');
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production', type: 'hotfix', incident: 'INC-42' });
      assert.equal(view.deployment.type, 'hotfix');
      await assert.rejects(app.decisions.decide(as('alice'), view.deployment.id, { decision: 'approve' }), ForbiddenError);
      const done = await app.decisions.decide(as('dana'), view.deployment.id, { decision: 'approve' });
      assert.equal(done.view.deployment.state, 'approved');
      assert.deepEqual(done.view.deployment.checks.filter((c) => c.bypassed).map((c) => c.id).sort(), ['freeze', 'soak', 'window']);
      const events = await app.audit.events({ subject: `deployment:${view.deployment.id}`, limit: 100 });
      const evaluated = events.filter((e) => e.action === 'gate.evaluated').at(-1)!.data as { bypassed: string[]; hotfix: { incident: string } };
      assert.deepEqual([...evaluated.bypassed].sort(), ['freeze', 'soak', 'window']);
      assert.equal(evaluated.hotfix.incident, 'INC-42');
    });

    test('staging auto-approves; a deployment that is never approved expires', async () => {
      const { app, advance } = await setup();
      await app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: DIGEST, commit: 'deadbeef1' });
      const pending = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'staging' });
      assert.equal(pending.view.deployment.state, 'awaiting_approval'); // not verified in dev yet
      await app.releases.verify(as('carol'), 'web', '1.4.2', 'dev');
      const refreshed = await app.deployments.refresh(as('carol'), pending.view.deployment.id);
      assert.equal(refreshed.view.deployment.state, 'approved');

      await app.releases.verify(as('carol'), 'web', '1.4.2', 'staging');
      const prod = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      advance(72 * 60);
      // Both expire: production was never approved, staging was approved but never started.
      assert.equal(await app.deployments.reconcile(), 2);
      const expired = await app.deployments.get(prod.view.deployment.id);
      assert.equal(expired.deployment.state, 'expired');
      assert.equal((await app.deployments.get(pending.view.deployment.id)).deployment.state, 'expired');
      await assert.rejects(app.decisions.decide(as('alice'), prod.view.deployment.id, { decision: 'approve' }), ConflictError);
    });

    test('status shows the current release and the rollback target of the next deployment', async () => {
      const { app, advance } = await setup();
      await releasedToStaging(app, '1.4.2');
      advance(61);
      const first = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.equal(first.gate.checks.find((c) => c.id === 'rollback-target')!.status, 'warn');
      await app.decisions.decide(as('alice'), first.view.deployment.id, { decision: 'approve' });
      await app.decisions.decide(as('bob'), first.view.deployment.id, { decision: 'approve' });
      await app.deployments.start(as('carol'), first.view.deployment.id);
      const done = await app.deployments.complete(as('carol'), first.view.deployment.id, 'succeeded');
      assert.equal(done.deployment.state, 'succeeded');

      await releasedToStaging(app, '1.5.0');
      const second = await app.deployments.request(as('carol'), { service: 'web', version: '1.5.0', environment: 'production' });
      const target = second.gate.checks.find((c) => c.id === 'rollback-target')!;
      assert.equal(target.status, 'pass');
      assert.match(target.reason, /rollback target: web 1\.4\.2/);
      const cell = (await app.status.status()).find((c) => c.service === 'web' && c.environment === 'production')!;
      assert.equal(cell.current?.version, '1.4.2');
      assert.equal(cell.open?.id, second.view.deployment.id);
      assert.match(cell.open!.waitingFor!, /soak/);
    });

    test('rollback_target: required fails a first production deployment at once, with its reason', async () => {
      const { app, advance } = await setup({ rollbackTarget: 'required' });
      await releasedToStaging(app);
      advance(61);
      const { view, gate } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      assert.equal(view.deployment.state, 'failed');
      assert.equal(gate.outcome, 'failed');
      assert.match(view.deployment.reason!, /rollback-target: first deployment of web to production: there is no earlier release to roll back to, and the policy requires one/);
      await assert.rejects(app.decisions.decide(as('alice'), view.deployment.id, { decision: 'approve' }), ConflictError);
    });

    test('the last approval given during a freeze is recorded: approved, then waiting for the window, approved again when it lifts', async () => {
      // Friday 27 Nov 2026 10:00 Amsterdam is inside a freeze that lifts at 14:00 local (13:00 UTC).
      const { app, advance } = await setup(
        { calendar: { timezone: 'Europe/Amsterdam', windows: [], freezes: [{ name: 'black-friday', kind: 'once', from: '2026-11-27T00:00', to: '2026-11-27T14:00' }] } },
        '2026-11-27T09:00:00Z',
      );
      await releasedToStaging(app);
      advance(61);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const id = view.deployment.id;
      assert.equal(view.deployment.state, 'awaiting_approval');
      await app.decisions.decide(as('alice'), id, { decision: 'approve' });
      const last = await app.decisions.decide(as('bob'), id, { decision: 'approve', comment: 'ship it after the freeze' });
      assert.equal(last.view.deployment.state, 'waiting_for_window');
      assert.deepEqual(last.view.approvals.map((a) => a.user), ['alice', 'bob']);
      assert.match(last.view.waitingFor!, /frozen by 'black-friday'/);
      const states = (await app.audit.events({ subject: `deployment:${id}`, limit: 100 }))
        .filter((e) => e.action === 'deployment.state')
        .map((e) => (e.data as { to: string }).to);
      assert.deepEqual(states, ['checking', 'awaiting_approval', 'approved', 'waiting_for_window']);

      // Still frozen a minute before 14:00 local; lifted a minute after.
      advance(178);
      assert.equal(app.now().toISOString(), '2026-11-27T12:59:00.000Z');
      await app.deployments.reconcile();
      assert.equal((await app.deployments.get(id)).deployment.state, 'waiting_for_window');
      advance(2);
      assert.equal(await app.deployments.reconcile(), 1);
      const lifted = await app.deployments.get(id);
      assert.equal(lifted.deployment.state, 'approved');
      assert.equal(lifted.approvals.filter((a) => !a.lapsedAt).length, 2);
      assert.equal((await app.audit.verify()).ok, true);
    });

    test('an auto-approving environment outside its window waits for it instead of failing', async () => {
      const { app, advance } = await setup({}, '2026-11-24T20:00:00Z');
      app.config.environments.find((e) => e.name === 'staging')!.policy.calendar = {
        timezone: 'UTC',
        windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }],
        freezes: [],
      };
      await app.releases.register(as('carol'), { service: 'web', version: '1.4.2', digest: DIGEST, commit: 'deadbeef1' });
      await app.releases.verify(as('carol'), 'web', '1.4.2', 'dev');
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'staging' });
      assert.equal(view.deployment.state, 'waiting_for_window');
      assert.match(view.waitingFor!, /next window opens/);
      advance(13 * 60); // Wednesday 09:00 UTC
      await app.deployments.reconcile();
      assert.equal((await app.deployments.get(view.deployment.id)).deployment.state, 'approved');
    });

    test('start and complete: the requester or an approver may, another developer may not; a rollout shipgate drives is not completed by hand', async () => {
      const { app, advance } = await setup();
      await releasedToStaging(app);
      advance(61);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const id = view.deployment.id;
      await app.decisions.decide(as('alice'), id, { decision: 'approve' });
      await app.decisions.decide(as('bob'), id, { decision: 'approve' });
      await assert.rejects(app.deployments.start(as('gina'), id), (e: Error) => e instanceof ForbiddenError && /gina may not start deployment \d+: only its requester \(carol\) or a holder of an approver role of production/.test(e.message));
      assert.equal((await app.deployments.get(id)).deployment.state, 'approved', 'nothing changed');
      const started = await app.deployments.start(as('alice'), id);
      assert.equal(started.deployment.state, 'rolling_out');
      await assert.rejects(app.deployments.complete(as('gina'), id, 'succeeded'), ForbiddenError);
      await assert.rejects(app.deployments.complete(as('gina'), id, 'failed', 'sabotage'), ForbiddenError);
      assert.equal((await app.deployments.get(id)).deployment.state, 'rolling_out', 'nothing changed');
      assert.equal((await app.deployments.complete(as('carol'), id, 'succeeded')).deployment.state, 'succeeded');

      // Where shipgate's controller rolls out, neither start nor complete is a person's to call.
      app.config.environments.find((e) => e.name === 'production')!.rollout = {
        driver: { kind: 'local', settings: null },
    metrics: null,
        plan: { steps: [10, 50, 100], minStepSeconds: 30, maxStepSeconds: 600, onInconclusive: 'pause', postDeployChecks: [], smoke: [] },
        servicePlans: {},
      };
      await releasedToStaging(app, '1.5.0');
      advance(61);
      const next = await app.deployments.request(as('carol'), { service: 'web', version: '1.5.0', environment: 'production' });
      await app.decisions.decide(as('alice'), next.view.deployment.id, { decision: 'approve' });
      await app.decisions.decide(as('bob'), next.view.deployment.id, { decision: 'approve' });
      await assert.rejects(app.deployments.start(as('carol'), next.view.deployment.id), (e: Error) => e instanceof ConflictError && /shipgate's controller rolls deployments out in production/.test(e.message));
      const controller = await app.deployments.start({ user: 'shipgate', via: 'system' }, next.view.deployment.id, firstRecord(DEFAULT_PLAN, false, null, app.now()));
      assert.equal(controller.deployment.state, 'rolling_out');
      await assert.rejects(app.deployments.complete(as('carol'), next.view.deployment.id, 'succeeded'), (e: Error) => e instanceof ConflictError && /records its end itself; to stop it, roll it back/.test(e.message));
      assert.equal((await app.deployments.get(next.view.deployment.id)).deployment.state, 'rolling_out');
    });

    test('one approver clicking 200 times at once is recorded once; racing ticks, verifications and registrations are 409 or no-ops, never errors', async () => {
      const { app, database, advance } = await setup({ checklist: [{ id: 'rollback-plan', text: 'Rollback plan reviewed' }] });
      await releasedToStaging(app);
      advance(61);
      const { view } = await app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' });
      const id = view.deployment.id;
      await app.decisions.decide(as('alice'), id, { decision: 'approve' });
      // frank is a devops lead too, and alice already filled that role: his approval changes
      // no check at all, so nothing but the store itself can stop a second copy of it.
      const clicks = await Promise.allSettled(Array.from({ length: 200 }, () => app.decisions.decide(as('frank'), id, { decision: 'approve' })));
      const failures = clicks.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
      assert.equal(clicks.length - failures.length, 1, 'one click lands');
      assert.deepEqual([...new Set(failures.map((e) => e.constructor.name))], ['ConflictError'], failures.map((e) => e.message).slice(0, 3).join(' | '));
      assert.equal(await count(database, 'approvals'), 2, 'alice once, frank once');
      const events = await app.audit.events({ subject: `deployment:${id}`, limit: 1000 });
      assert.equal(events.filter((e) => e.action === 'approval.approved').length, 2);

      const ticks = await Promise.allSettled(Array.from({ length: 50 }, () => app.decisions.tick(as('bob'), id, 'rollback-plan')));
      assert.equal(ticks.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(ticks.every((r) => r.status === 'fulfilled' || r.reason instanceof ConflictError), 'the rest are 409');

      await app.releases.register(as('carol'), { service: 'web', version: '2.0.0', digest: `sha256:${'b2'.repeat(32)}`, commit: 'deadbeef2' });
      const verifies = await Promise.allSettled(Array.from({ length: 50 }, () => app.releases.verify(as('carol'), 'web', '2.0.0', 'dev')));
      assert.equal(verifies.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(verifies.every((r) => r.status === 'fulfilled' || r.reason instanceof ConflictError));

      const registrations = await Promise.allSettled(
        Array.from({ length: 50 }, () => app.releases.register(as('carol'), { service: 'api', version: '3.0.0', digest: `sha256:${'c4'.repeat(32)}`, commit: 'deadbeef3' })),
      );
      assert.ok(registrations.every((r) => r.status === 'fulfilled'), `a retried registration succeeds: ${registrations.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => `${(r.reason as Error).name}: ${(r.reason as Error).message}`).slice(0, 3).join(' | ')}`);
      assert.equal(registrations.filter((r) => r.status === 'fulfilled' && !r.value.alreadyRegistered).length, 1, 'and is stored once');
      assert.equal((await app.audit.verify()).ok, true);
    });

    test('racing approvals and requests never apply one change twice', async () => {
      const { app, database } = await setup();
      await releasedToStaging(app);
      const [a, b] = await Promise.allSettled([
        app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' }),
        app.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' }),
      ]);
      assert.equal([a, b].filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok([a, b].some((r) => r.status === 'rejected' && r.reason instanceof ConflictError));
      assert.equal(await count(database, 'deployments'), 1);
      const id = (a.status === 'fulfilled' ? a : (b as PromiseFulfilledResult<Awaited<ReturnType<Shipgate['deployments']['request']>>>)).value.view.deployment.id;

      const dup = await Promise.allSettled([1, 2, 3, 4].map(() => app.decisions.decide(as('alice'), id, { decision: 'approve' })));
      assert.equal(dup.filter((r) => r.status === 'fulfilled').length, 1, 'one approval by alice');
      const both = await Promise.allSettled([app.decisions.decide(as('bob'), id, { decision: 'approve' }), app.decisions.decide(as('erin'), id, { decision: 'approve', role: 'tech-lead' })]);
      assert.equal(both.filter((r) => r.status === 'fulfilled').length, 2, 'distinct approvers both land');
      const view = await app.deployments.get(id);
      assert.equal(view.approvals.filter((x) => x.user === 'alice').length, 1);
      assert.equal((await app.audit.verify()).ok, true);
    });
  });
}

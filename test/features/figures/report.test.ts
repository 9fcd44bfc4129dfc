// The readiness report's sections that read other features' records, on a real SQLite file:
// the newest rollback rehearsal against the policy's SLO, migration runs, security and unknown
// gate checks shown whatever their id. PASS turns to FAIL on each, with the reason named.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readinessReport } from '../../../src/domain/readiness.js';
import { readinessHtml } from '../../../src/domain/reports/html.js';
import { readinessMarkdown } from '../../../src/domain/reports/markdown.js';
import type { CheckResult } from '../../../src/domain/types.js';
import { record } from '../../../src/features/audit/record.js';
import { FiguresService } from '../../../src/features/figures/service.js';
import { createShipgate, sqlStoreOn } from '../../../src/main.js';
import type { Database } from '../../../src/store/db.js';
import { testConfig } from '../../support/config.js';
import { freshDatabase } from '../../support/databases.js';
import { HISTORY, NOW, writeHistory } from './history.js';

describe('the readiness report: rehearsal, migrations, security and other checks (SQLite)', () => {
  let database: Database;
  let sg: ReturnType<typeof createShipgate>;
  let figures: FiguresService;
  const clock = { now: NOW };
  const report = async (id = 1) => readinessReport(await figures.readiness(id));

  before(async () => {
    database = await freshDatabase('sqlite');
    const config = testConfig({ rollbackRehearsal: { environment: 'staging', maxAgeDays: 7, sloSeconds: 300 } });
    sg = createShipgate({ config, store: sqlStoreOn(database), now: () => clock.now });
    figures = new FiguresService(sg.directory, sg.store, sg.now);
    await writeHistory(sg.store, HISTORY);
  });
  after(() => database.close());

  test('no rehearsal while the policy wants one: FAIL naming it', async () => {
    const r = await report();
    assert.equal(r.verdict, 'FAIL');
    assert.deepEqual(r.reasons, ["rollback readiness: no rollback rehearsal recorded for web; the policy's SLO is 300 s (rehearsal in staging, at most 7 days old)"]);
    assert.equal(r.migrations.sentence, 'no migration declared');
  });

  test('a rehearsal slower than the SLO fails; a newer one within it passes', async () => {
    const rehearsal = (version: string, ms: number) => ({ service: 'web', version, stableVersion: '1.0.1', ok: true, msToTraffic: ms / 2, msToVerified: ms, problems: [] });
    await sg.rollouts.recordRehearsal({ user: 'carol', via: 'local' }, 'web', '1.0.2', 'staging', rehearsal('1.0.2', 400_000));
    let r = await report();
    assert.equal(r.verdict, 'FAIL');
    assert.match(r.reasons[0]!, /newest rehearsal 2026-11-24T12:00:00\.000Z \(0 days old\) of 1\.0\.2 in staging: ok, rollback took 400\.0 s to stable verified; the policy's SLO is 300 s .*: NOT within it/);
    assert.equal(r.rollbackReadiness.withinSlo, false);
    await sg.rollouts.recordRehearsal({ user: 'carol', via: 'local' }, 'web', '1.0.4', 'staging', rehearsal('1.0.4', 2_000));
    r = await report();
    assert.equal(r.verdict, 'PASS', r.reasons.join('; '));
    assert.equal(r.rollbackReadiness.rehearsal!.version, '1.0.4');
    assert.equal(r.rollbackReadiness.rehearsal!.msToVerified, 2000);
    assert.match(readinessHtml(r), /aria-label="Rehearsed rollback against the SLO"/);
    // Eight days later the same rehearsal is too old for the policy's 7 days.
    clock.now = new Date(NOW.getTime() + 8 * 86_400_000);
    r = await report();
    clock.now = NOW;
    assert.equal(r.verdict, 'FAIL');
    assert.match(r.reasons[0]!, /\(8 days old, too old\) of 1\.0\.4 .*: NOT within it/);
  });

  test('migration runs are listed with their counts; a failed one fails the report', async () => {
    const run = (ok: boolean) => ({ environment: 'production', version: '1.0.1', direction: 'up' as const, ok, durationMs: 1200, countBefore: 10, countAfter: ok ? 12 : 10, during: 'rollout' as const, error: ok ? null : 'relation "orders" does not exist' });
    await sg.store.transaction((tx) => record(tx, clock.now, { user: 'carol', via: 'local' }, 'migration.ran', 'deployment:1', run(true)));
    let r = await report();
    assert.equal(r.verdict, 'PASS');
    assert.deepEqual(r.migrations.runs.map((m) => [m.direction, m.ok, m.countBefore, m.countAfter]), [['up', true, 10, 12]]);
    assert.match(readinessMarkdown(r), /\| 2026-11-24T12:00:00\.000Z \| up \| rollout \| ok \| 1\.2 s \| 10 \| 12 \|/);
    await sg.store.transaction((tx) => record(tx, clock.now, { user: 'carol', via: 'local' }, 'migration.ran', 'deployment:1', run(false)));
    r = await report();
    assert.equal(r.verdict, 'FAIL');
    assert.deepEqual(r.reasons, ['migration up (rollout) failed: relation "orders" does not exist']);
  });

  test('security checks have their section; a check of an id the report does not know is shown with its reason', async () => {
    const checks: CheckResult[] = [
      { id: 'certificate', status: 'pass', reason: 'the certificate of https://web.example is trusted, 80 days left' },
      { id: 'security-headers', status: 'fail', reason: 'Strict-Transport-Security is missing', bypassed: true },
      { id: 'brand-new-check' as CheckResult['id'], status: 'warn', reason: 'something a later shipgate checks <b>here</b>' },
    ];
    await sg.store.transaction(async (tx) => {
      const d = (await tx.deployments.find(2))!;
      await tx.deployments.update(d, { checks, updatedAt: d.updatedAt });
    });
    const r = await report(2);
    assert.deepEqual(r.security.map((c) => c.id), ['certificate', 'security-headers']);
    assert.deepEqual(r.otherChecks.map((c) => [c.id, c.status]), [['brand-new-check', 'warn']]);
    // A bypassed failure is shown, not counted; deployment 2 has no migration of its own.
    assert.ok(!r.reasons.some((x) => /security-headers/.test(x)), r.reasons.join('; '));
    const html = readinessHtml(r);
    assert.match(html, /<td>security-headers<\/td><td>fail \(bypassed\)<\/td>/);
    assert.match(html, /something a later shipgate checks &lt;b&gt;here&lt;\/b&gt;/);
    assert.match(readinessMarkdown(r), /\| brand-new-check \| warn \| something a later shipgate checks &lt;b&gt;here&lt;\/b&gt; \|/);
  });
});

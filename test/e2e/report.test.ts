// The readiness report of deployments really rolled out: shipgate on a SQLite file, the memory
// driver (src/drivers/memory), requests scripted into a memory metrics source, the real canary
// judge and a fixed clock. A healthy rollout reads PASS with each step's verdict; a canary with
// 5% errors reads FAIL with the judge's reason; hostile comments stay text in the HTML.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CanaryRequest } from '../../src/domain/canary.js';
import { readinessReport } from '../../src/domain/readiness.js';
import { readinessHtml } from '../../src/domain/reports/html.js';
import { readinessMarkdown } from '../../src/domain/reports/markdown.js';
import { DEFAULT_PLAN, type RolloutPlan } from '../../src/domain/rollout.js';
import { MemoryDriver } from '../../src/drivers/memory/driver.js';
import type { Actor } from '../../src/features/access/actor.js';
import { FiguresService } from '../../src/features/figures/service.js';
import { canaryAnalysis } from '../../src/features/rollouts/analysis.js';
import { RolloutController } from '../../src/features/rollouts/controller.js';
import { createShipgate, sqlStoreOn } from '../../src/main.js';
import { ScriptedSource } from '../../src/metrics/memory.js';
import type { Database } from '../../src/store/db.js';
import { testConfig } from '../support/config.js';
import { freshDatabase } from '../support/databases.js';
import { mulberry32 } from '../support/random.js';

const as = (user: string): Actor => ({ user, via: 'local' });
const PLAN: RolloutPlan = { ...DEFAULT_PLAN, steps: [10, 50, 100], minStepSeconds: 30, maxStepSeconds: 300, postDeployChecks: [0], smoke: [] };
const HOSTILE = `<script>alert(1)</script><img src=x onerror="alert(2)"> | **bold** ' "`;

describe('the readiness report of real rollouts (SQLite, memory driver, fixed clock)', () => {
  let database: Database;
  const clock = { now: new Date('2026-11-24T10:00:00Z') };
  let sg: ReturnType<typeof createShipgate>;
  let figures: FiguresService;
  const ids: Record<string, number> = {};

  before(async () => {
    database = await freshDatabase('sqlite');
    const config = testConfig({ soakMinutes: 0 });
    config.environments.find((e) => e.name === 'production')!.rollout = { driver: { kind: 'memory', settings: null }, metrics: null, plan: PLAN, servicePlans: {} };
    sg = createShipgate({ config, store: sqlStoreOn(database), now: () => clock.now });
    figures = new FiguresService(sg.directory, sg.store, sg.now);
    const driver = new MemoryDriver();
    const metrics = new ScriptedSource();
    let withMetrics = false;
    const controller = () =>
      new RolloutController({ records: sg.rollouts, target: () => ({ driver, metrics: withMetrics ? metrics : null, plan: PLAN }), analysis: canaryAnalysis(), smoke: async () => [], now: () => clock.now });
    const rand = mulberry32(11);
    const traffic = (n: number, weight: number, errorRate: number) => {
      const batch: CanaryRequest[] = [];
      for (let i = 0; i < n; i++) {
        const canary = rand() < weight / 100;
        const error = canary && rand() < errorRate;
        batch.push({ at: clock.now.getTime(), version: canary ? 'canary' : 'stable', status: error ? 500 : 200, latencyMs: 50 * (0.8 + 0.4 * rand()), error });
      }
      metrics.add(...batch);
    };
    const deploy = async (version: string, errorRate: number) => {
      await sg.releases.register(as('carol'), { service: 'web', version, digest: `sha256:${version.replaceAll('.', '').padStart(64, 'e')}`, commit: 'abc1234' });
      await sg.releases.verify(as('carol'), 'web', version, 'staging');
      const { view } = await sg.deployments.request(as('carol'), { service: 'web', version, environment: 'production' });
      const id = view.deployment.id;
      await sg.decisions.decide(as('alice'), id, { decision: 'approve', comment: HOSTILE, role: 'devops-lead' });
      await sg.decisions.decide(as('bob'), id, { decision: 'approve', comment: 'looks good', role: 'tech-lead' });
      const c = controller();
      for (let look = 0; look < 300; look++) {
        const r = await c.step(id);
        if (r.done) break;
        const rec = (await sg.rollouts.get(id)).rollout;
        if (rec?.phase === 'analyse' || rec?.phase === 'post_deploy') traffic(1000, rec.weight, errorRate);
        clock.now = new Date(clock.now.getTime() + 10_000);
      }
      return id;
    };
    ids.first = await deploy('1.0.0', 0);
    withMetrics = true;
    ids.healthy = await deploy('2.0.0', 0);
    ids.bad = await deploy('3.0.0', 0.05);
  });
  after(() => database.close());

  test('a healthy canary: PASS, each step with its verdict and per-step throughput, both approvals', async () => {
    const r = readinessReport(await figures.readiness(ids.healthy));
    assert.equal(r.deployment.state, 'succeeded');
    assert.equal(r.verdict, 'PASS', r.reasons.join('; '));
    assert.deepEqual(r.canary.steps.map((s) => [s.weight, s.verdict]), [[10, 'pass'], [50, 'pass'], [100, null]]);
    assert.ok(r.canary.steps[0].canaryRequests! > 0 && r.canary.steps[0].canaryPerSecond! > 0, 'the 10% step served canary requests');
    assert.ok(r.canary.overall!.stable.p95! > 40 && r.canary.overall!.stable.p95! < 61, `stable p95 near 50-60 ms: ${r.canary.overall!.stable.p95}`);
    assert.equal(r.canary.overall!.canary.errors, 0);
    assert.deepEqual(r.approvals.map((a) => [a.user, a.role, a.decision]), [['alice', 'devops-lead', 'approve'], ['bob', 'tech-lead', 'approve']]);
    assert.equal(r.migrations.sentence, 'no migration declared');
    const md = readinessMarkdown(r);
    assert.match(md, /^# Readiness report: web 2\.0\.0 → production/);
    assert.match(md, /\n## PASS\n/);
    assert.match(md, /\| 1 \| 10% \| errors \| pass \|/);
    // Per step, from the judge's figures kept on each step: the 50% step's requests alone.
    const [s10, s50] = r.canary.steps;
    assert.equal(s10.canaryErrorRate, 0);
    assert.equal(s50.canaryErrorRate, 0);
    assert.ok(s50.canaryRequests! > 0 && s50.canaryRequests! < r.canary.overall!.canary.requests, 'the 50% step counts its own requests only');
  });

  test('a canary with 5% errors: FAIL, rolled back at 10%, the judge\'s reason named', async () => {
    const r = readinessReport(await figures.readiness(ids.bad));
    assert.equal(r.deployment.state, 'rolled_back');
    assert.equal(r.verdict, 'FAIL');
    assert.match(r.reasons.join('\n'), /the deployment is rolled_back, not succeeded: analysis failed at 10%/);
    assert.match(r.reasons.join('\n'), /the judge failed step 1 \(10%\)/);
    const failed = r.canary.steps[0].reasons.filter((x) => x.verdict === 'fail').map((x) => x.metric);
    assert.ok(failed.length > 0, 'a failing metric is named');
    assert.equal(r.canary.rollback!.trigger, 'analysis');
    const html = readinessHtml(r);
    assert.match(html, /<span class="verdict FAIL" id="verdict">FAIL<\/span>/);
    assert.match(html, /<svg [^>]*aria-label="Throughput per step \(requests per second\)"/);
    assert.match(html, /<svg [^>]*aria-label="Latency percentiles, whole rollout"/);
    assert.ok(r.canary.overall!.canary.errorRate! > 0.02, `canary error rate ${r.canary.overall!.canary.errorRate}`);
    // The step's own figures: its error rates against stable's, its latency up to its end.
    const step = r.canary.steps[0];
    assert.ok(step.canaryErrorRate! > 0.02 && step.stableErrorRate! < 0.01, `step 1: canary ${step.canaryErrorRate}, stable ${step.stableErrorRate}`);
    assert.ok(step.upToHere!.stable.p95! > 40 && step.upToHere!.stable.p95! < 61, `stable p95 up to step 1: ${step.upToHere!.stable.p95}`);
    assert.match(html, /<svg [^>]*aria-label="Error rate per step \(%\)"/);
    assert.match(readinessMarkdown(r), new RegExp(`\\| 1 \\| 10% \\| .* \\| ${(step.canaryErrorRate! * 100).toFixed(2)}% \\| ${(step.stableErrorRate! * 100).toFixed(2)}% \\|`));
  });

  test('hostile approval comments stay text: no markup gets into the HTML, no table breaks in Markdown', async () => {
    const r = readinessReport(await figures.readiness(ids.healthy));
    const html = readinessHtml(r);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&lt;img src=x onerror=&quot;alert\(2\)&quot;&gt;/);
    const md = readinessMarkdown(r);
    assert.doesNotMatch(md, /<script|<img/i);
    const row = md.split('\n').find((l) => l.startsWith('| alice |'))!;
    // Seven columns: the comment's pipe is escaped, not a new cell.
    assert.equal(row.split(/(?<!\\)\|/).length - 2, 7, row);
  });

  test('a first deployment (straight to 100%, no canary) reads PASS with its one-step plan', async () => {
    const r = readinessReport(await figures.readiness(ids.first));
    assert.equal(r.verdict, 'PASS', r.reasons.join('; '));
    assert.deepEqual(r.canary.plan, [100]);
  });
});

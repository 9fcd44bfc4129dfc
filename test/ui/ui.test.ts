// The web UI in a real Chromium against `shipgate serve` run as a child process, with sign-in
// through a real OpenID provider on loopback (oidc-provider): unauthenticated requests see
// nothing, two people approve a production deployment (four eyes), a developer sees no approve
// button and gets 403 posting anyway, a read-only user can do nothing, a form without its CSRF
// token is refused, a live rollout on the local driver updates the page over SSE while traffic
// flows, the audit view filters and shows the chain verified, and the metrics page draws its
// charts with each figure beside its definition. Prints the UI's page weight
// and the inbox's time to first render; saves screenshots into docs/ui/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort } from '../../src/drivers/ports.js';
import { launchChromium, signInOidc, signInToken } from '../support/browser.js';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { startLoad } from '../support/load.js';
import { startOidc, type TestOidc } from '../support/oidc.js';
import { type Served, startServe, until } from '../support/serve.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHOTS = path.join(ROOT, 'docs/ui');

describe('the web UI, signed in through OIDC, in Chromium', () => {
  const dir = tempDir('shipgate-ui-');
  const env: NodeJS.ProcessEnv = { ...process.env, SHIPGATE_USER: 'erin', SHIPGATE_DATABASE_URL: '', SHIPGATE_OIDC_CLIENT_SECRET: '' };
  const { cli, json } = cliIn(dir, () => env);
  let oidc: TestOidc;
  let served: Served;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let load: ReturnType<typeof startLoad> | null = null;
  let base = '';
  let daveToken = '';
  let bobToken = '';

  async function newPage(): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    contexts.push(ctx);
    return ctx.newPage();
  }

  async function request(version: string, n: number): Promise<number> {
    const reg = await cli(['release', 'register', 'web', version, '--digest', `sha256:${n.toString(16).padStart(64, 'a')}`, '--commit', `c0ffee${n}`]);
    assert.equal(reg.code, 0, reg.stderr);
    const out = await json(['deploy', 'web', version, 'production']);
    const d = out.view?.deployment ?? out.deployment;
    assert.equal(d?.state, 'awaiting_approval', JSON.stringify(out).slice(0, 300));
    return d.id;
  }

  /** alice (OIDC) ticks the checklist and approves, bob (token sign-in) approves: alice's page. */
  async function approvedByAliceAndBob(id: number): Promise<Page> {
    const alice = await newPage();
    await signInOidc(alice, base, 'alice');
    await alice.locator(`article.deployment[data-id="${id}"] form[action$="/tick/rollback-plan"] button`).click();
    await alice.locator('article.deployment', { hasText: 'ticked by alice' }).waitFor();
    await alice.locator('button[data-action="approve"]').click();
    await alice.locator('article.deployment', { hasText: 'approve by alice' }).waitFor();
    const bob = await newPage();
    await signInToken(bob, base, bobToken);
    await bob.locator(`article.deployment[data-id="${id}"] button[data-action="approve"]`).click();
    await bob.locator('article.deployment', { hasText: 'approve by bob (tech-lead, token)' }).waitFor();
    return alice;
  }

  const stateOf = async (id: number) => (await json(['show', String(id)])).deployment.state as string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    oidc = await startOidc(
      { alice: { groups: ['ops-leads'] }, bob: { groups: ['tech-leads'] }, carol: { groups: ['engineers'] } },
      `${base}/ui/auth/callback`,
    );
    env.SHIPGATE_OIDC_CLIENT_SECRET = oidc.clientSecret;
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [developer, devops-lead, tech-lead, auditor]
users:
  - { name: alice, roles: [devops-lead] }
  - { name: bob, roles: [tech-lead] }
  - { name: carol, roles: [developer] }
  - { name: dave, roles: [auditor] }
  - { name: erin, roles: [developer] }
ui:
  session_hours: 2
  read_only_roles: [auditor]
  oidc:
    issuer: ${oidc.issuer}
    client_id: ${oidc.clientId}
    user_claim: preferred_username
    roles_claim: groups
    role_map: { ops-leads: devops-lead, tech-leads: tech-lead, engineers: developer }
services:
  - name: web
    run:
      command: [node, ${JSON.stringify(path.join(ROOT, 'examples/sample-service/server.mjs'))}]
      ready_path: /ready
environments:
  - name: production
    policy:
      require_verified_in: null
      soak: 0m
      approvals: { required: [{ role: devops-lead, count: 1 }, { role: tech-lead, count: 1 }] }
      checklist: [{ id: rollback-plan, text: "Rollback plan written" }]
    rollout:
      steps: [50, 100]
      min_step: 3s
      max_step: 60s
      on_inconclusive: rollback
      post_deploy: [0s]
      smoke:
        - { name: health, path: /health, json: { status: ok } }
`,
    );
    const check = await cli(['config', 'validate']);
    if (check.code !== 0 && !/unknown command/.test(check.stderr)) assert.fail(`config: ${check.stdout}${check.stderr}`);
    daveToken = (await json(['token', 'create', 'dave', '--label', 'ui-test'])).token;
    bobToken = (await json(['token', 'create', 'bob', '--label', 'ui-test'])).token;
    served = await startServe(dir, env, ['--port', String(port), '--reconcile-every', '1']);
    assert.equal(served.url, base);
    browser = await launchChromium();
    fs.mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await load?.stop();
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await served?.stop();
    await oidc?.stop();
    await cli(['runtime', 'stop', 'web', 'production']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the unauthenticated are sent to sign-in and see no data', async () => {
    await request('1.0.0', 1);
    for (const url of ['/ui', '/ui/board', '/ui/deployments/1', '/ui/audit', '/ui/deployments/1/events', '/ui/metrics', '/ui/metrics?since=2w']) {
      const res = await fetch(base + url, { redirect: 'manual' });
      assert.equal(res.status, 302, url);
      assert.match(res.headers.get('location') ?? '', /^\/ui\/signin/);
      assert.doesNotMatch(await res.text(), /web|1\.0\.0|erin/);
    }
    const root = await fetch(base + '/', { redirect: 'manual' });
    assert.equal(root.headers.get('location'), '/ui');
    const post = await fetch(`${base}/ui/deployments/1/approve`, { method: 'POST', body: new URLSearchParams({ comment: 'x' }) });
    assert.equal(post.status, 401);
    assert.doesNotMatch(await post.text(), /1\.0\.0|erin/);
    assert.equal(await stateOf(1), 'awaiting_approval');
  });

  test('two people approve through OIDC (four eyes); a form without the CSRF token is refused', async () => {
    const alice = await newPage();
    const started = Date.now();
    await signInOidc(alice, base, 'alice');
    console.log(`# OIDC sign-in (provider login + consent) took ${Date.now() - started} ms`);
    const card = alice.locator('article.deployment[data-id="1"]');
    await card.waitFor();
    const text = await card.innerText();
    for (const expected of ['web 1.0.0 → production', 'erin', 'c0ffee1', 'first deployment there', 'approvals', 'Rollback plan written']) assert.ok(text.includes(expected), `inbox card shows '${expected}':\n${text}`);
    assert.equal(await card.locator('button[data-action="approve"]').count(), 1);
    await alice.screenshot({ path: path.join(SHOTS, 'inbox.png'), fullPage: true });

    // A POST with the session cookie but no CSRF token: refused, nothing recorded.
    const forged = await alice.request.post(`${base}/ui/deployments/1/approve`, { form: { comment: 'forged' }, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    assert.match(await forged.text(), /CSRF/);
    const wrong = await alice.request.post(`${base}/ui/deployments/1/approve`, { form: { comment: 'forged', _csrf: 'nope' }, maxRedirects: 0 });
    assert.equal(wrong.status(), 403);
    assert.equal((await json(['show', '1'])).approvals.length, 0);

    // Reject needs a reason: the browser will not submit an empty one (required).
    await card.locator('form[action$="/tick/rollback-plan"] button').click();
    await alice.waitForURL(`${base}/ui/deployments/1`);
    await alice.locator('article.deployment', { hasText: 'ticked by alice' }).waitFor();
    await alice.locator('button[data-action="approve"]').click();
    await alice.locator('article.deployment', { hasText: 'approve by alice (devops-lead, oidc)' }).waitFor();
    assert.equal(await alice.locator('button[data-action="approve"]').count(), 0, 'one person counts once: no second approve button');

    const bob = await newPage();
    await signInOidc(bob, base, 'bob');
    await bob.locator('article.deployment[data-id="1"] button[data-action="approve"]').click();
    await bob.locator('article.deployment', { hasText: 'approve by bob (tech-lead, oidc)' }).waitFor();
    // The controller in `shipgate serve` rolls the first release out (nothing runs there yet).
    await until('deployment 1 succeeded', async () => (await stateOf(1)) === 'succeeded', 60_000, 500);
    await bob.goto(`${base}/ui/board`);
    assert.match(await bob.locator('table.board').innerText(), /1\.0\.0/);
  });

  test('a developer sees no approve button and gets 403 posting anyway; a read-only user can do nothing', async () => {
    const id = await request('2.0.0', 2);
    const carol = await newPage();
    await signInOidc(carol, base, 'carol');
    assert.match(await carol.locator('main').innerText(), /Nothing awaits your approval/);
    await carol.goto(`${base}/ui/deployments/${id}`);
    await carol.locator(`article.deployment[data-id="${id}"]`).waitFor();
    assert.equal(await carol.locator('button[data-action="approve"]').count(), 0);
    const csrf = await carol.locator('input[name="_csrf"]').first().inputValue();
    const res = await carol.request.post(`${base}/ui/deployments/${id}/approve`, { form: { _csrf: csrf, comment: 'sneaky' }, maxRedirects: 0 });
    assert.equal(res.status(), 403);
    assert.match(await res.text(), /carol/);

    const dave = await newPage();
    await signInToken(dave, base, daveToken);
    await dave.goto(`${base}/ui/deployments/${id}`);
    assert.match(await dave.locator('header').innerText(), /read-only/);
    assert.equal(await dave.locator('main button').count(), 0, 'a read-only user sees no buttons');
    const daveCsrf = await dave.locator('input[name="_csrf"]').first().inputValue();
    for (const action of ['approve', 'reject', 'tick/rollback-plan', 'rollback']) {
      const r = await dave.request.post(`${base}/ui/deployments/${id}/${action}`, { form: { _csrf: daveCsrf, comment: 'x', reason: 'x' }, maxRedirects: 0 });
      assert.equal(r.status(), 403, action);
    }
    assert.equal((await json(['show', String(id)])).approvals.length, 0);
  });

  test('a live rollout updates the page over SSE while traffic flows', async () => {
    const rt = await json(['runtime', 'show', 'web', 'production']);
    load = startLoad(`http://127.0.0.1:${rt.proxyPort}`, { rps: 200, clients: 6, maxSeconds: 300 });
    const id = 2;
    const alice = await approvedByAliceAndBob(id);

    await alice.goto(`${base}/ui/deployments/${id}`);
    const panel = alice.locator('#rollout');
    await until('the canary takes traffic on the live page', async () => Number(await panel.getAttribute('data-canary-requests')) > 20, 45_000, 250);
    const weight = await alice.locator('#weight').innerText();
    assert.ok(['50', '100'].includes(weight), `weight ${weight}`);
    assert.ok(Number(await panel.getAttribute('data-updates')) >= 2, 'several live updates arrived');
    await alice.locator('#chart-errors canvas').waitFor();
    await alice.screenshot({ path: path.join(SHOTS, 'rollout-live.png'), fullPage: true });
    await until('the live page shows the rollout succeeded', async () => (await panel.getAttribute('data-state')) === 'succeeded', 60_000, 250);
    assert.match(await alice.locator('#reasons').innerText(), /pass/);
    assert.match(await alice.locator('#smoke').innerText(), /passed health/);
    await alice.screenshot({ path: path.join(SHOTS, 'deployment.png'), fullPage: true });
    assert.ok((load.stats.byVersion['2.0.0'] ?? 0) > 0);
  });

  test('a person rolls a rollout back from its page (reason required) and rejects a deployment from the inbox', async () => {
    const id = await request('3.0.0', 3);
    const alice = await approvedByAliceAndBob(id);

    await alice.goto(`${base}/ui/deployments/${id}`);
    const panel = alice.locator('#rollout');
    await until('the rollout is under way on the live page', async () => (await panel.getAttribute('data-state')) === 'rolling_out', 45_000, 250);
    // The page was loaded before the rollout started: the Roll back form appears live.
    await alice.locator('#rollback-form input[name="reason"]').fill('error budget spent on another incident');
    await alice.locator('#rollback-form button').click();
    await until('the live page shows the rollback', async () => (await panel.getAttribute('data-state')) === 'rolled_back', 45_000, 250);
    assert.match(await alice.locator('#rollback-timing').innerText(), /^Rolled back \(manual\): .*error budget spent on another incident.*Traffic back on stable after \d+ ms, verified after \d+ ms\.$/);
    const after = await json(['show', String(id)]);
    assert.equal(after.deployment.state, 'rolled_back');
    assert.equal(after.deployment.rollout.rollback.trigger, 'manual');

    // Reject from the inbox: the reason is the deployment's end.
    const rejected = await request('4.0.0', 4);
    await alice.goto(`${base}/ui`);
    const card = alice.locator(`article.deployment[data-id="${rejected}"]`);
    await card.locator('input[name="comment"][aria-label="reason"]').fill('the migration is not reversible');
    await card.locator('button[data-action="reject"]').click();
    await until('the deployment is rejected', async () => (await stateOf(rejected)) === 'rejected', 20_000, 250);
    assert.match((await json(['show', String(rejected)])).deployment.reason, /the migration is not reversible/);
  });

  test('the audit view filters by action and actor and shows the chain verified', async () => {
    const page = await newPage();
    await signInToken(page, base, daveToken);
    await page.goto(`${base}/ui/audit?action=approval.approved`);
    assert.match(await page.locator('#chain').innerText(), /Chain intact/);
    const rows = await page.locator('table.audit tbody tr').allInnerTexts();
    assert.equal(rows.length, 6, `two approvals for each of deployments 1, 2 and 3:\n${rows.join('\n')}`);
    assert.ok(rows.every((r) => /approval\.approved/.test(r)));
    await page.goto(`${base}/ui/audit?actor=bob`);
    const bobRows = await page.locator('table.audit tbody tr').allInnerTexts();
    assert.ok(bobRows.length >= 2 && bobRows.every((r) => /\tbob\t/.test(r)), bobRows.join('\n'));
    await page.screenshot({ path: path.join(SHOTS, 'audit.png'), fullPage: true });
  });

  test('the metrics page: signed in, it draws its charts and prints each figure beside its definition', async () => {
    // Production so far: 1.0.0 and 2.0.0 succeeded, 3.0.0 rolled back by a person during its
    // canary, 4.0.0 rejected at the gate (never deployed, not counted).
    const page = await newPage();
    await signInToken(page, base, daveToken);
    await page.locator('header nav a', { hasText: 'Metrics' }).click();
    await page.waitForURL(`${base}/ui/metrics`);
    assert.match(await page.locator('#window').innerText(), /^production · all services · .* \(30 days\) · 3 reached production, 3 ended$/);
    await page.locator('#chart-deploys canvas').waitFor();
    await page.locator('#chart-failure-rate canvas').waitFor();
    assert.equal(await page.locator('#metrics-charts').getAttribute('data-drawn'), 'yes');
    const cfr = await page.locator('tr[data-figure="change_failure_rate"]').innerText();
    assert.match(cfr, /Change failure rate.*33\.3% \(1\/3\).*deployments to production that ended failed, rolled back or rollback_failed/s);
    assert.match(await page.locator('tr[data-figure="success_rate"]').innerText(), /66\.7% \(2\/3\)/);
    assert.match(await page.locator('tr[data-figure="time_to_rollback"]').innerText(), /median \d+ ms, p90 \d+ ms \(n=1\)/);
    assert.equal(await page.locator('table.figures tbody tr').count(), 10);
    assert.match(await page.locator('main').innerText(), /#3 web rolled_back: (caught by the canary at \d+%|reached 100%)/);
    await page.screenshot({ path: path.join(SHOTS, 'metrics.png'), fullPage: true });
    // The filter: a bad window is a clear error on the page, not a server error.
    await page.goto(`${base}/ui/metrics?since=whenever`);
    assert.match(await page.locator('p.error').innerText(), /--since must be a span like 30d/);
    assert.equal(await page.locator('p.error').getAttribute('data-status'), '400');
  });

  test('figures: page weight (gzip) and the inbox time to first render', async () => {
    let total = 0;
    const parts: string[] = [];
    for (const asset of ['htmx.min.js', 'ui.css', 'uplot.min.css', 'live.js']) {
      const body = Buffer.from(await (await fetch(`${base}/ui/assets/${asset}`)).arrayBuffer());
      const gz = gzipSync(body).length;
      total += gz;
      parts.push(`${asset} ${(gz / 1024).toFixed(1)} KiB`);
    }
    console.log(`# UI page weight (JS + CSS, gzip): ${(total / 1024).toFixed(1)} KiB (${parts.join(', ')}); the inbox loads htmx + CSS only`);
    const page = await newPage();
    await signInOidc(page, base, 'alice');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      await page.goto(`${base}/ui`);
      times.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? performance.getEntriesByType('navigation')[0]!.duration));
    }
    times.sort((a, b) => a - b);
    console.log(`# inbox time to first render (first-contentful-paint, Chromium, median of 5): ${times[2]!.toFixed(0)} ms (min ${times[0]!.toFixed(0)}, max ${times[4]!.toFixed(0)})`);
    assert.ok(times[2]! < 5000);
  });
});

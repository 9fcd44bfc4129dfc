// Rollouts on the local driver with real processes and real traffic on loopback: the sample
// service runs as child processes behind shipgate's weighted proxy, steady traffic flows
// through it, and the `shipgate rollout` command drives each deployment. A healthy release
// reaches 100%; an erroring, a slow, a smoke-failing and a crashing build each roll back with
// their reason; a controller killed with SIGKILL mid-step leaves traffic flowing and a restart
// finishes the rollout with an intact audit chain, and so does a SIGKILL after the canary
// started, after a weight change, after promotion and when a rollback was decided.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliIn, type Run } from '../support/cli.js';
import { startLoad } from '../support/load.js';
import { tempDir } from '../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('rollouts on the local driver, with real processes and traffic', () => {
  const dir = tempDir('shipgate-rollout-');
  const env = { ...process.env, SHIPGATE_USER: 'carol', SMOKE_TOKEN: 'smoke-secret', SHIPGATE_DATABASE_URL: '' };
  let load: ReturnType<typeof startLoad> | null = null;
  let releases = 0;

  const { cli, json } = cliIn(dir, () => env);

  /** Registers a release and requests it in production; returns the deployment id. */
  async function request(version: string): Promise<number> {
    releases += 1;
    const digest = `sha256:${releases.toString(16).padStart(64, '0')}`;
    const reg = await cli(['release', 'register', 'web', version, '--digest', digest, '--commit', `c0ffee${releases}`]);
    assert.equal(reg.code, 0, reg.stderr);
    const out = await json(['deploy', 'web', version, 'production']);
    assert.equal(out.view?.deployment?.state ?? out.deployment?.state, 'approved', JSON.stringify(out).slice(0, 400));
    return (out.view?.deployment ?? out.deployment).id;
  }

  async function deployment(id: number): Promise<{ state: string; reason: string | null; rollout: any }> {
    return (await json(['show', String(id)])).deployment;
  }

  before(async () => {
    fs.writeFileSync(
      path.join(dir, 'builds.json'),
      JSON.stringify({ '3.0.0': { ERROR_RATE: '0.05' }, '4.0.0': { LATENCY_MS: '40' }, '5.0.0': { FAIL_HEALTH: '1' }, '6.0.0': { CRASH_AFTER: '40' }, '3.1.0': { ERROR_RATE: '0.05' } }),
    );
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
    run:
      command: [node, ${JSON.stringify(path.join(ROOT, 'examples/sample-service/server.mjs'))}]
      env: { BUILDS: ${JSON.stringify(path.join(dir, 'builds.json'))}, API_TOKEN: smoke-secret }
      ready_path: /ready
environments:
  - name: production
    policy:
      auto_approve: true
      require_verified_in: null
    rollout:
      steps: [25, 100]
      min_step: 2s
      max_step: 120s
      on_inconclusive: rollback
      post_deploy: [0s, 1s]
      smoke:
        - { name: health, path: /health, json: { status: ok } }
        - { name: ready, path: /ready, json: { status: ready } }
        - { name: login, path: /login, contains: Sign In }
        - { name: me, path: /api/v1/user/me, json: { id: "*" }, token_env: SMOKE_TOKEN }
`,
    );
    const first = await request('1.0.0');
    const r = await cli(['rollout', String(first)]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /first deployment here/);
    const rt = await json(['runtime', 'show', 'web', 'production']);
    load = startLoad(`http://127.0.0.1:${rt.proxyPort}`, { rps: 300, clients: 8, maxSeconds: 600 });
  });

  after(async () => {
    await load?.stop();
    await cli(['runtime', 'stop', 'web', 'production']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a healthy release goes 25% → 100% on live traffic and becomes the stable version', async () => {
    const id = await request('2.0.0');
    const r = await cli(['rollout', String(id)]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /step 1\/2: 25% of traffic on 2\.0\.0/);
    assert.match(r.stdout, /smoke tests passed at 25% \(4 checks\)/);
    assert.match(r.stdout, /analysis passed at 25% after \d+ canary requests/);
    assert.match(r.stdout, /succeeded in/);
    const d = await deployment(id);
    assert.equal(d.state, 'succeeded');
    assert.equal(d.rollout.steps[0].verdict, 'pass');
    const rt = await json(['runtime', 'show', 'web', 'production']);
    assert.equal(rt.stable.version, '2.0.0');
    assert.equal(rt.canary, null);
    assert.ok((load!.stats.byVersion['2.0.0'] ?? 0) > 0, 'traffic reached the new version');
  });

  for (const [version, reason, trigger] of [
    ['3.0.0', /errors|error rate/, 'analysis'],
    ['4.0.0', /slower|latency|p9\d/, 'analysis'],
    ['5.0.0', /smoke test failed: health: GET \/health answered 503, expected 200/, 'smoke'],
    ['6.0.0', /not running any more|errors|error rate/, null],
  ] as const) {
    test(`a bad build (${version}) rolls back by itself, with its reason, timed and verified`, async () => {
      const before = (await json(['runtime', 'show', 'web', 'production'])).stable.version;
      const id = await request(version);
      const r = await cli(['rollout', String(id)]);
      assert.equal(r.code, 4, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /ROLLING BACK/);
      const d = await deployment(id);
      assert.equal(d.state, 'rolled_back');
      assert.match(d.reason ?? '', reason);
      if (trigger) assert.equal(d.rollout.rollback.trigger, trigger);
      assert.equal(d.rollout.rollback.ok, true);
      assert.ok(d.rollout.rollback.msToTraffic >= 0 && d.rollout.rollback.msToVerified >= d.rollout.rollback.msToTraffic);
      const rt = await json(['runtime', 'show', 'web', 'production']);
      assert.equal(rt.stable.version, before, 'the stable version serves again');
      assert.equal(rt.weight, 0);
    });
  }

  test('SIGKILL of the controller mid-step leaves traffic flowing; a restart finishes the rollout', async () => {
    const id = await request('7.0.0');
    const killed = await cli(['rollout', String(id)], {
      onStdout: (out, kill) => {
        if (/25%: \d+ canary/.test(out) || /analysis passed/.test(out)) kill();
      },
    });
    assert.equal(killed.code, null, 'killed by a signal');
    const mid = await deployment(id);
    assert.ok(['rolling_out', 'verifying'].includes(mid.state), mid.state);
    const seenBefore = load!.stats.byVersion['7.0.0'] ?? 0;
    // Traffic keeps flowing to both versions while no controller runs.
    const deadline = Date.now() + 10_000;
    while ((load!.stats.byVersion['7.0.0'] ?? 0) <= seenBefore + 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok((load!.stats.byVersion['7.0.0'] ?? 0) > seenBefore + 20, 'the canary kept serving without a controller');

    const resumed = await cli(['rollout', String(id)]);
    assert.equal(resumed.code, 0, `${resumed.stdout}\n${resumed.stderr}`);
    assert.equal((await deployment(id)).state, 'succeeded');
    const audit = await cli(['audit', 'verify']);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    assert.match(audit.stdout, /audit chain intact/);
  });

  // SIGKILL at other points of the rollout: just after the canary started, just after a weight
  // change was recorded (before its smoke tests), after promotion (before the post-deploy
  // checks), and when a rollback was decided. A restarted controller ends each one the way it
  // would have ended, with traffic where the record says.
  for (const [version, point, killAt, expected] of [
    ['10.0.0', 'after the canary started', /canary 10\.0\.0 deployed, no traffic yet/, 'succeeded'],
    ['11.0.0', 'after a weight change', /step 1\/2: 25% of traffic on 11\.0\.0/, 'succeeded'],
    ['12.0.0', 'after promotion', /12\.0\.0 takes all traffic; verifying after deploy/, 'succeeded'],
    ['3.1.0', 'when a rollback was decided', /ROLLING BACK/, 'rolled_back'],
  ] as const) {
    test(`SIGKILL of the controller ${point}; a restart ends the deployment ${expected}`, async () => {
      const stableBefore = (await json(['runtime', 'show', 'web', 'production'])).stable.version;
      const id = await request(version);
      let matched = false;
      const killed = await cli(['rollout', String(id)], {
        onStdout: (out, kill) => {
          if (!matched && killAt.test(out)) {
            matched = true;
            kill();
          }
        },
      });
      assert.ok(matched, `the rollout never printed ${killAt}:\n${killed.stdout}\n${killed.stderr}`);
      const resumed = await cli(['rollout', String(id)]);
      assert.equal(resumed.code, expected === 'succeeded' ? 0 : 4, `${resumed.stdout}\n${resumed.stderr}`);
      const d = await deployment(id);
      assert.equal(d.state, expected);
      const rt = await json(['runtime', 'show', 'web', 'production']);
      assert.equal(rt.weight, 0, 'no canary weight left behind');
      assert.equal(rt.canary, null, 'no canary process left behind');
      assert.equal(rt.stable.version, expected === 'succeeded' ? version : stableBefore);
      if (expected === 'rolled_back') {
        assert.equal(d.rollout.rollback.ok, true);
        assert.match(d.reason ?? '', /errors|error rate/);
      }
      const audit = await cli(['audit', 'verify']);
      assert.equal(audit.code, 0, audit.stdout + audit.stderr);
    });
  }

  test('a person rolls a rollout back mid-step with shipgate rollback; the reason names them', async () => {
    const id = await request('8.0.0');
    let asked: Promise<Run> | null = null;
    const rollout = await cli(['rollout', String(id)], {
      onStdout: (out) => {
        if (!asked && /25%: \d+ canary/.test(out)) asked = cli(['rollback', String(id), '--reason', 'dashboards look odd']);
      },
    });
    const answer = asked as Promise<Run> | null; // assigned in the callback above
    assert.ok(answer, rollout.stdout);
    assert.equal((await answer).code, 0);
    assert.equal(rollout.code, 4, rollout.stdout + rollout.stderr);
    const d = await deployment(id);
    assert.equal(d.state, 'rolled_back');
    assert.equal(d.reason, 'rollback requested by carol: dashboards look odd');
    assert.equal(d.rollout.rollback.trigger, 'manual');
    assert.equal((await cli(['rollback', String(id), '--reason', 'again'])).code, 2, 'a finished deployment cannot be rolled back again');
  });

  test('shipgate rehearse deploys a release next to the current one, rolls back, and reports both timings', async () => {
    const before = (await json(['runtime', 'show', 'web', 'production'])).stable.version;
    releases += 1;
    const reg = await cli(['release', 'register', 'web', '9.0.0', '--digest', `sha256:${releases.toString(16).padStart(64, '0')}`, '--commit', 'c0ffee99']);
    assert.equal(reg.code, 0, reg.stderr);
    const out = path.join(dir, 'rehearsal.json');
    const r = await cli(['rehearse', 'web', '9.0.0', 'production', '--out', out]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`rollback rehearsal of web 9\\.0\\.0 in production \\(back to ${before.replaceAll('.', '\\.')}\\): ok`));
    const report = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.equal(report.ok, true);
    assert.ok(report.msToServe >= report.msToDeploy && report.msToVerified >= report.msToTraffic && report.msToTraffic >= 0, JSON.stringify(report));
    assert.ok(report.deploySmoke.length === 4 && report.deploySmoke.every((x: { ok: boolean }) => x.ok));
    const rt = await json(['runtime', 'show', 'web', 'production']);
    assert.equal(rt.stable.version, before, 'the environment is as it was');
    assert.equal(rt.canary, null);
    const events = await json(['audit', 'list', '--subject', 'release:web@9.0.0']);
    assert.ok(JSON.stringify(events).includes('rehearsal.completed'));
    const same = await cli(['rehearse', 'web', before, 'production']);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /already the version in production/);
  });
});

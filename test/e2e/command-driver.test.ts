// Rollouts on the command driver: the user's own script does every driver action, as a team
// would wrap helm or kubectl. Here the script runs the sample service in two slots on loopback —
// the canary on one port, the stable version on another — so the smoke tests and the rollback's
// verification talk to real processes. A healthy release goes through every action in order;
// a script that fails mid-rollout rolls the release back; a rollback whose script fails ends in
// rollback_failed, and `shipgate status` says so until a later deployment ends.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/drivers/ports.js';
import { cliIn, type Run } from '../support/cli.js';
import { tempDir } from '../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVICE = path.join(ROOT, 'examples/sample-service/server.mjs');

// The user's script. Slots: canary.pid / stable.pid hold the processes; actions.log is what
// the test reads back; *.broken files make an action fail the way a real tool would.
const DRIVER_SCRIPT = `
import { spawn } from 'node:child_process';
import fs from 'node:fs';

const action = process.env.SHIPGATE_ACTION;
const version = process.env.SHIPGATE_VERSION;
const weight = process.env.SHIPGATE_WEIGHT ?? '-';
fs.appendFileSync('actions.log', \`\${action} \${version} \${weight} stable=\${process.env.SHIPGATE_STABLE_VERSION || '-'}\\n\`);

function stop(slot) {
  if (!fs.existsSync(slot + '.pid')) return;
  const pid = Number(fs.readFileSync(slot + '.pid', 'utf8'));
  try { process.kill(pid, 'SIGKILL'); } catch {}
  fs.rmSync(slot + '.pid');
}

async function start(slot, v) {
  stop(slot);
  const port = Number(process.env[slot.toUpperCase() + '_PORT']);
  const child = spawn(process.execPath, [process.env.SERVICE], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, PORT: String(port), VERSION: v },
  });
  child.unref();
  fs.writeFileSync(slot + '.pid', String(child.pid));
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    const ok = await fetch(\`http://127.0.0.1:\${port}/ready\`).then((r) => r.headers.get('x-version') === v && r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.error(\`\${slot} \${v} did not become ready on port \${port}\`);
  process.exit(1);
}

if (fs.existsSync(action + '.broken')) {
  console.error(fs.readFileSync(action + '.broken', 'utf8').trim());
  process.exit(4);
}
switch (action) {
  case 'deploy':
    await start('canary', version);
    break;
  case 'set-weight':
  case 'promote':
    fs.writeFileSync('weight', weight);
    break;
  case 'finalize':
    await start('stable', version);
    stop('canary');
    fs.writeFileSync('weight', '0');
    break;
  case 'rollback':
    stop('canary');
    fs.writeFileSync('weight', '0');
    break;
}
`;

describe('rollouts on the command driver, with the user scripts running real processes', () => {
  const dir = tempDir('shipgate-command-');
  let env: NodeJS.ProcessEnv = {};
  let releases = 0;

  const { cli, json } = cliIn(dir, () => env);

  /** Registers a release, requests it in production and runs its rollout in the foreground. */
  async function rollout(version: string): Promise<{ id: number; run: Run }> {
    releases += 1;
    const digest = `sha256:${releases.toString(16).padStart(64, '0')}`;
    const reg = await cli(['release', 'register', 'web', version, '--digest', digest, '--commit', `c0ffee${releases}`]);
    assert.equal(reg.code, 0, reg.stderr);
    const out = await json(['deploy', 'web', version, 'production']);
    const id = (out.view?.deployment ?? out.deployment).id;
    fs.writeFileSync(path.join(dir, 'actions.log'), '');
    return { id, run: await cli(['rollout', String(id)]) };
  }

  const actions = () => fs.readFileSync(path.join(dir, 'actions.log'), 'utf8').trim().split('\n');
  const slotVersion = async (port: number) => (await fetch(`http://127.0.0.1:${port}/health`)).headers.get('x-version');
  const alive = (slot: string) => {
    const file = path.join(dir, `${slot}.pid`);
    if (!fs.existsSync(file)) return false;
    try {
      process.kill(Number(fs.readFileSync(file, 'utf8')), 0);
      return true;
    } catch {
      return false;
    }
  };

  let stablePort = 0;
  let canaryPort = 0;

  before(async () => {
    stablePort = await freePort();
    canaryPort = await freePort();
    env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '', SERVICE, STABLE_PORT: String(stablePort), CANARY_PORT: String(canaryPort) };
    fs.writeFileSync(path.join(dir, 'driver.mjs'), DRIVER_SCRIPT);
    fs.writeFileSync(path.join(dir, 'builds.json'), JSON.stringify({ '4.0.0': { FAIL_HEALTH: '1' } }));
    env.BUILDS = path.join(dir, 'builds.json');
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [dev]
users:
  - { name: carol, roles: [dev] }
services:
  - name: web
environments:
  - name: production
    policy:
      auto_approve: true
      require_verified_in: null
    rollout:
      driver: command
      command:
        deploy: [node, driver.mjs]
        set_weight: [node, driver.mjs]
        promote: [node, driver.mjs]
        rollback: [node, driver.mjs]
        finalize: [node, driver.mjs]
        canary_url: http://127.0.0.1:${canaryPort}
        stable_url: http://127.0.0.1:${stablePort}
        timeout: 30s
      steps: [50, 100]
      min_step: 1s
      max_step: 60s
      post_deploy: [0s]
      smoke:
        - { name: health, path: /health, json: { status: ok } }
        - { name: ready, path: /ready, json: { status: ready } }
`,
    );
    const first = await rollout('1.0.0');
    assert.equal(first.run.code, 0, `${first.run.stdout}\n${first.run.stderr}`);
    assert.equal(await slotVersion(stablePort), '1.0.0');
  });

  after(() => {
    for (const slot of ['canary', 'stable']) {
      const file = path.join(dir, `${slot}.pid`);
      if (fs.existsSync(file)) {
        try {
          process.kill(Number(fs.readFileSync(file, 'utf8')), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a healthy release: the script is run for each action in order, with the rollout context', async () => {
    const { id, run } = await rollout('2.0.0');
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /smoke tests passed at 50% \(2 checks\)/);
    assert.deepEqual(actions(), [
      'deploy 2.0.0 - stable=1.0.0',
      'set-weight 2.0.0 50 stable=1.0.0',
      'set-weight 2.0.0 100 stable=1.0.0',
      'promote 2.0.0 100 stable=1.0.0',
      'finalize 2.0.0 100 stable=1.0.0',
    ]);
    const d = (await json(['show', String(id)])).deployment;
    assert.equal(d.state, 'succeeded');
    assert.equal(d.rollout.steps[0].smoke.length, 2);
    assert.ok(d.rollout.steps[0].smoke.every((s: { ok: boolean; status: number }) => s.ok && s.status === 200));
    assert.equal(await slotVersion(stablePort), '2.0.0', 'the script made 2.0.0 the stable version');
    assert.equal(alive('canary'), false);
  });

  test('a script that fails mid-rollout rolls the release back, and stable is verified', async () => {
    fs.writeFileSync(path.join(dir, 'set-weight.broken'), 'ingress: weight update refused (quota exceeded)');
    try {
      const { id, run } = await rollout('3.0.0');
      assert.equal(run.code, 4, `${run.stdout}\n${run.stderr}`);
      const d = (await json(['show', String(id)])).deployment;
      assert.equal(d.state, 'rolled_back');
      assert.equal(d.rollout.rollback.trigger, 'driver');
      assert.match(d.reason, /weight failed: set-weight: node exited with 4: ingress: weight update refused \(quota exceeded\)/);
      assert.equal(d.rollout.rollback.ok, true);
      assert.equal(d.rollout.rollback.detail, 'stable serves and passes its health checks');
      assert.deepEqual(actions(), ['deploy 3.0.0 - stable=2.0.0', 'set-weight 3.0.0 50 stable=2.0.0', 'rollback 3.0.0 0 stable=2.0.0']);
      assert.equal(alive('canary'), false, 'the rollback script stopped the canary');
      assert.equal(await slotVersion(stablePort), '2.0.0');
    } finally {
      fs.rmSync(path.join(dir, 'set-weight.broken'));
    }
  });

  test('a rollback whose script fails ends in rollback_failed, loudly, until a later deployment ends', async () => {
    fs.writeFileSync(path.join(dir, 'rollback.broken'), 'kubectl: connection to the server was refused');
    let failedId = 0;
    try {
      // 4.0.0 fails its health check: the smoke test calls for a rollback, whose script fails.
      const { id, run } = await rollout('4.0.0');
      failedId = id;
      assert.equal(run.code, 4, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /ROLLING BACK \(smoke\): smoke test failed: health: GET \/health answered 503/);
      assert.match(run.stdout, /ROLLBACK FAILED: traffic could not be moved back: rollback: node exited with 4: kubectl: connection to the server was refused/);
      const d = (await json(['show', String(id)])).deployment;
      assert.equal(d.state, 'rollback_failed');
      assert.equal(d.rollout.rollback.ok, false);
      assert.match(d.reason, /^smoke test failed: .*; rollback failed: traffic could not be moved back/);
      assert.equal(alive('canary'), true, 'nothing stopped the canary');
    } finally {
      fs.rmSync(path.join(dir, 'rollback.broken'));
    }

    const status = await cli(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`!! ROLLBACK FAILED: deployment ${failedId} of 4\\.0\\.0 .*kubectl: connection to the server was refused; where traffic goes is not known`));
    const cell = (await json(['status'])).status.find((c: { environment: string }) => c.environment === 'production');
    assert.equal(cell.rollbackFailed.id, failedId);
    assert.equal(cell.current.version, '2.0.0');

    const events = (await cli(['audit', 'export'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const failed = events.find((e) => e.action === 'rollout.rollback_failed' && e.subject === `deployment:${failedId}`);
    assert.ok(failed, 'the failed rollback is in the audit log');
    assert.equal(failed.data.ok, false);

    // The team fixes the target by hand and ships a good release: the alarm clears.
    const next = await rollout('5.0.0');
    assert.equal(next.run.code, 0, `${next.run.stdout}\n${next.run.stderr}`);
    const after = (await json(['status'])).status.find((c: { environment: string }) => c.environment === 'production');
    assert.equal(after.rollbackFailed, null);
    assert.equal(after.current.version, '5.0.0');
    const audit = await cli(['audit', 'verify']);
    assert.equal(audit.code, 0, audit.stdout + audit.stderr);
  });
});

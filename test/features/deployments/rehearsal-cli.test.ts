// The rollback-rehearsal check with real processes: the sample service runs in staging on the
// local driver, a production deployment waits for a rehearsal there, `shipgate rehearse`
// deploys a release next to staging's and rolls it back for real, and the same production
// deployment then passes with the rehearsal's own timing as its figure.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { formatDuration } from '../../../src/domain/gate.js';
import { cliIn } from '../../support/cli.js';
import { tempDir } from '../../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const dir = tempDir('shipgate-rehearsal-gate-');
const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '' };
const { cli, json } = cliIn(dir, () => env);

after(async () => {
  await cli(['runtime', 'stop', 'web', 'staging']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a production deployment waits for a rollback rehearsal in staging and passes once one is run', async () => {
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
      ready_path: /ready
environments:
  - name: staging
    policy: { auto_approve: true }
    rollout:
      steps: [100]
      min_step: 1s
      max_step: 60s
      post_deploy: [0s]
      smoke:
        - { name: health, path: /health, json: { status: ok } }
  - name: production
    policy:
      auto_approve: true
      require_verified_in: null
      rollback_rehearsal: { within: 7d, slo: 5m }
`,
  );
  const register = async (version: string, n: number) => {
    const r = await cli(['release', 'register', 'web', version, '--digest', `sha256:${String(n).padStart(64, '0')}`, '--commit', `c0ffee${n}`]);
    assert.equal(r.code, 0, r.stderr);
  };
  await register('1.0.0', 1);
  await register('1.1.0', 2);
  const staged = await json(['deploy', 'web', '1.0.0', 'staging']);
  const rolled = await cli(['rollout', String(staged.deployment.id)]);
  assert.equal(rolled.code, 0, rolled.stdout + rolled.stderr);

  const blocked = await cli(['deploy', 'web', '1.0.0', 'production']);
  assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
  assert.match(blocked.stdout, /rollback-rehearsal\s+fail\s+no rollback rehearsal of web in staging; run `shipgate rehearse web <version> staging`/);
  const id = /deployment (\d+):/.exec(blocked.stdout)![1];

  const out = path.join(dir, 'rehearsal.json');
  const rehearsed = await cli(['rehearse', 'web', '1.1.0', 'staging', '--out', out]);
  assert.equal(rehearsed.code, 0, rehearsed.stdout + rehearsed.stderr);
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  assert.equal(report.ok, true);

  const passed = await cli(['refresh', id]);
  assert.equal(passed.code, 0, passed.stdout + passed.stderr);
  assert.match(passed.stdout, /\[approved\]/);
  const took = formatDuration(report.msToVerified).replace(/[()]/g, '\\$&');
  assert.match(passed.stdout, new RegExp(`rollback-rehearsal\\s+pass\\s+rollback took ${took} in the rehearsal of 1\\.1\\.0 on \\d{4}-\\d\\d-\\d\\d in staging; SLO 5m`));
});

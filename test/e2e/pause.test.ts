// A rollout whose analysis stays inconclusive past the step's limit pauses for a person (no
// traffic reaches this service, so there is no evidence either way); `shipgate resume` lets
// it continue. Real runtime, real processes, real CLI.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliIn, type Run } from '../support/cli.js';
import { tempDir } from '../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const dir = tempDir('shipgate-pause-');
const env = { ...process.env, SHIPGATE_USER: 'carol', SHIPGATE_DATABASE_URL: '' };

const { cli } = cliIn(dir, () => env);

after(async () => {
  await cli(['runtime', 'stop', 'web', 'production']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('inconclusive past max_step pauses; resume continues to 100%', async () => {
  fs.writeFileSync(
    path.join(dir, 'shipgate.yaml'),
    `version: 1
roles: [dev]
users: [{ name: carol, roles: [dev] }]
services:
  - name: web
    run: { command: [node, ${JSON.stringify(path.join(ROOT, 'examples/sample-service/server.mjs'))}], ready_path: /ready }
environments:
  - name: production
    policy: { auto_approve: true, require_verified_in: null }
    rollout:
      steps: [50, 100]
      min_step: 1s
      max_step: 2s
      on_inconclusive: pause
      post_deploy: [0s]
      smoke: [{ name: health, path: /health, json: { status: ok } }]
`,
  );
  for (const [i, v] of ['1.0.0', '2.0.0'].entries()) {
    assert.equal((await cli(['release', 'register', 'web', v, '--digest', `sha256:${String(i + 1).repeat(64)}`, '--commit', `abc123${i}`])).code, 0);
  }
  assert.equal((await cli(['deploy', 'web', '1.0.0', 'production'])).code, 0);
  assert.equal((await cli(['rollout', '1'])).code, 0);
  assert.equal((await cli(['deploy', 'web', '2.0.0', 'production'])).code, 0);

  let resumed: Promise<Run> | null = null;
  const run = await cli(['rollout', '2'], {
    onStdout: (out) => {
      if (!resumed && /paused at 50%/.test(out)) resumed = cli(['resume', '2']);
    },
  });
  const answer = resumed as Promise<Run> | null;
  assert.ok(answer, run.stdout);
  const r = await answer;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(run.stdout, /paused at 50%: analysis inconclusive after 2 s/);
  assert.match(run.stdout, /resumed by a person/);
  assert.match(run.stdout, /succeeded in/);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const nothing = await cli(['resume', '2']);
  assert.equal(nothing.code, 2, 'a finished rollout cannot be resumed');
});

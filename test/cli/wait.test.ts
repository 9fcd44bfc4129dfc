// `shipgate wait`, as a CI job runs it: it follows one deployment, printing a line whenever its
// state or what it waits for changes, and exits 0 when it succeeded (or reached --until), 4 when
// it ended otherwise, 3 when --timeout passed first, 2 for a deployment that does not exist. The
// CLI runs in-process on a SQLite store while other commands (the approvers) run beside it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { runCli } from '../../src/cli/program.js';
import { tempDir } from '../support/databases.js';

const CONFIG = `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
  - { name: alice, roles: [lead] }
services:
  - name: web
environments:
  - name: production
    policy:
      require_verified_in: null
      approvals: { required: [{ role: lead, count: 1 }] }
`;

async function shipgate(dir: string, argv: string[], as = 'carol') {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { out: (t) => (stdout += t), err: (t) => (stderr += t), env: { SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: as }, cwd: dir });
  return { code, stdout, stderr };
}

describe('shipgate wait', () => {
  const dir = tempDir('shipgate-wait-');
  let releases = 0;
  /** A new release requested in production: its deployment id, awaiting alice's approval. */
  const requested = async () => {
    releases += 1;
    const version = `1.${releases}.0`;
    assert.equal((await shipgate(dir, ['release', 'register', 'web', version, '--digest', `sha256:${String(releases).repeat(64).slice(0, 64)}`, '--commit', 'abc1234'])).code, 0);
    const r = await shipgate(dir, ['deploy', 'web', version, 'production', '--json']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    return String(JSON.parse(r.stdout).deployment.id);
  };

  before(() => {
    fs.writeFileSync(path.join(dir, 'shipgate.yaml'), CONFIG);
  });

  test('--until approved: waits while approvals are missing, exits 0 once a lead approves, printing each change', async () => {
    const id = await requested();
    const waiting = shipgate(dir, ['wait', id, '--until', 'approved', '--poll', '1s']);
    // The approver acts while wait polls.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await shipgate(dir, ['approve', id], 'alice')).code, 0);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[0], new RegExp(`^deployment ${id} web 1\\.1\\.0 → production: awaiting_approval; waiting for .*lead`));
    assert.match(lines.at(-1)!, new RegExp(`^deployment ${id} web 1\\.1\\.0 → production: approved`));
    assert.equal((await shipgate(dir, ['cancel', id, '--reason', 'not today'])).code, 0);
  });

  test('a deployment that ends without succeeding exits 4 with its reason; a finished one at once', async () => {
    const id = await requested();
    const waiting = shipgate(dir, ['wait', id, '--poll', '1s']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await shipgate(dir, ['reject', id, '--reason', 'the migration is not reversible'], 'alice')).code, 4);
    const r = await waiting;
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /: rejected: rejected by alice \(lead\): the migration is not reversible\n$/);
    // Already over: no waiting, same answer, and --json gives the deployment.
    const again = await shipgate(dir, ['wait', id, '--json']);
    assert.equal(again.code, 4);
    assert.equal(JSON.parse(again.stdout).deployment.state, 'rejected');
    assert.equal(again.stderr, '', 'with --json nothing but the JSON');
  });

  test('the rollout run elsewhere: wait follows start and complete to succeeded, exit 0', async () => {
    const id = await requested();
    assert.equal((await shipgate(dir, ['approve', id], 'alice')).code, 0);
    const waiting = shipgate(dir, ['wait', id, '--poll', '1s']);
    assert.equal((await shipgate(dir, ['start', id])).code, 0);
    assert.equal((await shipgate(dir, ['complete', id, '--outcome', 'succeeded'])).code, 0);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr.trim().split('\n').at(-1)!, /: succeeded$/);
  });

  test('--timeout passes first: exit 3 and says so; bad input and an unknown deployment are 2', async () => {
    const id = await requested();
    const started = Date.now();
    const r = await shipgate(dir, ['wait', id, '--timeout', '2s', '--poll', '1s']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /gave up after 2s: deployment \d+ is awaiting_approval\n$/);
    assert.ok(Date.now() - started < 10_000);
    const bad = await shipgate(dir, ['wait', id, '--timeout', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout must be a duration such as 30s, 10m or 2h \(got 'soon'\)/);
    const until = await shipgate(dir, ['wait', id, '--until', 'done']);
    assert.equal(until.code, 2);
    const missing = await shipgate(dir, ['wait', '999']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /999/);
  });
});

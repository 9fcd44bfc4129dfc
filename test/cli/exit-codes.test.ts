// The exit codes of the README's table, from the real command: commander's own usage errors,
// a busy port, a rollout asked of a deployment that is not approved, a retried registration.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('exit codes', () => {
  const dir = tempDir('shipgate-exit-');
  const env = { ...process.env, SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: 'carol' };
  const { cli } = cliIn(dir, () => env);
  let busy: net.Server;
  let busyPort = 0;

  before(async () => {
    fs.writeFileSync(
      path.join(dir, 'shipgate.yaml'),
      `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
  - { name: alice, roles: [lead] }
services:
  - name: web
    run:
      command: [node, ${JSON.stringify(path.join(ROOT, 'examples/sample-service/server.mjs'))}]
      ready_path: /ready
environments:
  - name: production
    policy:
      require_verified_in: null
      approvals: { required: [{ role: lead, count: 1 }] }
    rollout:
      steps: [50, 100]
`,
    );
    busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    busyPort = (busy.address() as net.AddressInfo).port;
  });
  after(() => busy.close());

  test("commander's usage errors exit 2: a missing required option, an unknown option, an unknown subcommand, a missing argument", async () => {
    for (const [args, says] of [
      [['reject', '1'], /required option '--reason <text>' not specified/],
      [['status', '--bogus'], /unknown option '--bogus'/],
      [['token', 'frob'], /unknown command 'frob'/],
      [['frob'], /unknown command 'frob'/],
      [['deploy', 'web'], /missing required argument 'version'/],
    ] as const) {
      const r = await cli([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      assert.match(r.stderr, says);
    }
  });

  test('a busy port is a clear usage error, not an internal error', async () => {
    const r = await cli(['serve', '--port', String(busyPort)], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${busyPort} on 127\\.0\\.0\\.1 is in use; choose another with --port`));
    assert.doesNotMatch(r.stderr, /internal error/);
  });

  test('a retried registration exits 0 and says so; a rollout of a deployment not yet approved says why, exit 3', async () => {
    const register = ['release', 'register', 'web', '1.0.0', '--digest', `sha256:${'d7'.repeat(32)}`, '--commit', 'abc1234'];
    assert.equal((await cli(register)).code, 0);
    const again = await cli(register);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /web 1\.0\.0 is already registered with this digest and commit; nothing to do/);

    const deploy = await cli(['deploy', 'web', '1.0.0', 'production']);
    assert.equal(deploy.code, 3, deploy.stderr);
    const r = await cli(['rollout', '1']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /deployment 1 is awaiting_approval, not approved: its rollout starts once it is; waiting for approvals: approvals 0\/1/);
  });
});

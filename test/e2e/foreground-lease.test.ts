// `shipgate rollout <id>` in the foreground on PostgreSQL, where replicas of `shipgate serve`
// may be driving rollouts: it runs only under the deployment's lease. While a replica holds the
// lease it refuses (exit 2) naming the holder and touches nothing; once the lease is free it
// takes it, runs the rollout to its end (the user's scripts of the command driver are called)
// and leaves no lease behind.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RolloutLeases } from '../../src/features/rollouts/lease-keeper.js';
import { openStore } from '../../src/main.js';
import { cliIn } from '../support/cli.js';
import { freshPostgresUrl, tempDir } from '../support/databases.js';

test('a foreground rollout on PostgreSQL waits for no one: refused while a replica holds the lease, run under its own lease once free', async () => {
  const dir = tempDir('shipgate-foreground-lease-');
  const url = await freshPostgresUrl();
  fs.writeFileSync(path.join(dir, 'driver.mjs'), `import fs from 'node:fs';\nfs.appendFileSync('actions.log', process.env.SHIPGATE_ACTION + ' ' + process.env.SHIPGATE_VERSION + '\\n');\n`);
  fs.writeFileSync(
    path.join(dir, 'shipgate.yaml'),
    `version: 1
roles: [developer]
users: [{ name: carol, roles: [developer] }]
services: [{ name: web }]
environments:
  - name: production
    policy: { auto_approve: true, require_verified_in: null, rollback_target: warn }
    rollout:
      driver: command
      command:
        deploy: [node, driver.mjs]
        set_weight: [node, driver.mjs]
        promote: [node, driver.mjs]
        rollback: [node, driver.mjs]
        finalize: [node, driver.mjs]
        timeout: 30s
      min_step: 0s
      post_deploy: [0s]
`,
  );
  const { cli, json } = cliIn(dir, () => ({ ...process.env, SHIPGATE_DATABASE_URL: url, SHIPGATE_USER: 'carol' }));
  await json(['release', 'register', 'web', '1.0.0', '--digest', `sha256:${'a1'.repeat(32)}`, '--commit', 'abc1234']);
  const deployed = await json(['deploy', 'web', '1.0.0', 'production']);
  const id = deployed.deployment.id as number;
  assert.equal(deployed.deployment.state, 'approved');

  // A replica holds the deployment's lease.
  const store = await openStore({ url });
  try {
    const replica = new RolloutLeases(store, 'replica-a', { ttlMs: 60_000, renewEveryMs: 1_000, renewDeadlineMs: 30_000 }, () => new Date());
    assert.equal(await replica.take(id), true);
    const refused = await cli(['rollout', String(id)]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, new RegExp(`deployment ${id}'s rollout is being driven by replica-a`));
    assert.equal(fs.existsSync(path.join(dir, 'actions.log')), false, 'no script ran');
    assert.equal((await json(['show', String(id)])).deployment.state, 'approved');

    // The replica lets go (it stops): the foreground rollout takes the lease and runs.
    await replica.release(id, false);
    const ran = await cli(['rollout', String(id)]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.equal((await json(['show', String(id)])).deployment.state, 'succeeded');
    assert.match(fs.readFileSync(path.join(dir, 'actions.log'), 'utf8'), /deploy 1\.0\.0/);
    const events = (await json(['audit', 'list', '--subject', `deployment:${id}`])).events as { action: string; data: { holder?: string; token?: number } }[];
    const takes = events.filter((e) => e.action === 'rollout.lease_taken');
    assert.deepEqual(takes.map((e) => e.data.holder?.replace(/^cli-.*/, 'cli')), ['replica-a', 'cli']);
    assert.ok(takes[1].data.token! > takes[0].data.token!, 'the foreground run fenced with a higher token');
    assert.deepEqual(await store.leases.list(), [], 'no lease left behind');
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

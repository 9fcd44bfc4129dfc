import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CommandDriver } from '../../../src/drivers/command/driver.js';
import type { RolloutContext } from '../../../src/drivers/driver.js';
import { tempDir } from '../../support/databases.js';

const ctx: RolloutContext = {
  deploymentId: 7,
  service: 'web',
  environment: 'production',
  version: '1.5.0',
  digest: `sha256:${'ab'.repeat(32)}`,
  stableVersion: '1.4.2',
  stableDigest: `sha256:${'cd'.repeat(32)}`,
};

test('the command driver runs the user scripts with the rollout context in the environment', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'actions.log');
  const script = `echo "$SHIPGATE_ACTION $SHIPGATE_SERVICE $SHIPGATE_ENVIRONMENT $SHIPGATE_VERSION $SHIPGATE_STABLE_VERSION w=\${SHIPGATE_WEIGHT:-none} d=$SHIPGATE_DEPLOYMENT_ID" >> ${log}`;
  const driver = new CommandDriver({ commands: { deploy: script, setWeight: script, promote: script, rollback: script } });
  await driver.deploy(ctx);
  await driver.setWeight(ctx, 10);
  await driver.setWeight(ctx, 50);
  await driver.promote(ctx);
  await driver.rollback(ctx);
  assert.deepEqual(fs.readFileSync(log, 'utf8').trim().split('\n'), [
    'deploy web production 1.5.0 1.4.2 w=none d=7',
    'set-weight web production 1.5.0 1.4.2 w=10 d=7',
    'set-weight web production 1.5.0 1.4.2 w=50 d=7',
    'promote web production 1.5.0 1.4.2 w=100 d=7',
    'rollback web production 1.5.0 1.4.2 w=0 d=7',
  ]);
});

test('a failing script fails the action with its exit code and the end of its stderr', async () => {
  const driver = new CommandDriver({
    commands: { deploy: 'echo "helm: release web not found" >&2; exit 3', setWeight: ['true'], promote: ['true'], rollback: ['true'] },
  });
  await assert.rejects(driver.deploy(ctx), /deploy: \/bin\/sh exited with 3: helm: release web not found/);
});

test('a missing program and a hanging script are reported, not waited on forever', async () => {
  const missing = new CommandDriver({ commands: { deploy: ['/nonexistent/deploy-web'], setWeight: ['true'], promote: ['true'], rollback: ['true'] } });
  await assert.rejects(missing.deploy(ctx), /deploy: cannot run \/nonexistent\/deploy-web/);
  const slow = new CommandDriver({ timeoutMs: 300, commands: { deploy: ['true'], setWeight: ['sleep', '30'], promote: ['true'], rollback: ['true'] } });
  await assert.rejects(slow.setWeight(ctx, 10), /set-weight: sleep did not finish within 300 ms and was killed/);
});

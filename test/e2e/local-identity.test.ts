// The local store names its user without proof (--as / SHIPGATE_USER): every audit event such
// a command writes carries the operating-system account that ran it, token administration
// included. Runs the real CLI on a SQLite file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';

test('token administration and --as on the local store are audited with the OS user who ran them', async () => {
  const dir = tempDir('shipgate-identity-');
  fs.writeFileSync(
    path.join(dir, 'shipgate.yaml'),
    `version: 1
roles: [dev, lead]
users:
  - { name: alice, roles: [lead] }
  - { name: carol, roles: [dev] }
services:
  - name: web
environments:
  - name: staging
    policy: { auto_approve: true }
`,
  );
  const env = { ...process.env, SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: '' };
  const { cli, json } = cliIn(dir, () => env);
  const me = os.userInfo().username;

  const created = await json(['token', 'create', 'alice', '--label', 'laptop']);
  assert.match(created.token, /^sg_/);
  const reg = await cli(['--as', 'carol', 'release', 'register', 'web', '1.0.0', '--digest', `sha256:${'e5'.repeat(32)}`, '--commit', 'abc1234']);
  assert.equal(reg.code, 0, reg.stderr);
  assert.equal((await cli(['--as', 'alice', 'token', 'revoke', String(created.id)])).code, 0);

  const { events } = await json(['audit', 'list']);
  const byAction = Object.fromEntries(events.map((e: any) => [e.action, e]));
  assert.equal(byAction['token.created'].actor, 'admin');
  assert.equal(byAction['token.created'].data.osUser, me);
  assert.equal(byAction['token.revoked'].actor, 'alice');
  assert.equal(byAction['token.revoked'].data.osUser, me);
  assert.equal(byAction['release.registered'].actor, 'carol');
  assert.equal(byAction['release.registered'].data.via, 'local');
  assert.equal(byAction['release.registered'].data.osUser, me);
  assert.doesNotMatch(JSON.stringify(events), new RegExp(created.token), 'the token itself is never in the audit log');
});

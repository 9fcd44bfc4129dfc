// `shipgate parity staging production` as a user runs it: the drift between the environments'
// declared settings (a secret from the environment, one from a file) and the releases they
// run, exit 4 on critical drift and 0 once it is gone; the same drift holding a production
// deployment at the gate; and GET /api/v1/parity from a running `shipgate serve`. No secret,
// nor its hash, ever appears in output, server logs or the audit log.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { startServe, type Served } from '../support/serve.js';

const STAGING_SECRET = 'sk-staging-1d9f0c';
const PRODUCTION_SECRET = 'sk-production-77ab2e';
const FILE_SECRET = 'tls-private-material-42';

const config = (productionFeature: string) => `version: 1
roles: [dev, lead]
users:
  - { name: carol, roles: [dev] }
  - { name: ann, roles: [lead] }
services:
  - name: web
  - name: api
environments:
  - name: staging
    policy: { auto_approve: true }
    settings:
      FEATURE_CHECKOUT: "on"
      DB_URL: postgres://db.staging/web
      REPLICAS: 2
      API_KEY: { secret_env: STAGING_API_KEY }
      SIGNING_KEY: { file: secrets/staging.key }
  - name: production
    policy:
      auto_approve: true
      require_verified_in: null
      parity: { against: staging, allow: [DB_URL, REPLICAS], critical: all_except_allowed }
    settings:
      FEATURE_CHECKOUT: "${productionFeature}"
      DB_URL: postgres://db.production/web
      REPLICAS: 6
      API_KEY: { secret_env: PRODUCTION_API_KEY }
      SIGNING_KEY: { file: secrets/production.key }
`;

let served: Served | null = null;
after(async () => {
  await served?.stop();
});

test('parity reports drift without secrets, blocks a production deployment, and clears once fixed', async () => {
  const dir = tempDir('shipgate-parity-');
  fs.mkdirSync(path.join(dir, 'secrets'));
  fs.writeFileSync(path.join(dir, 'secrets/staging.key'), FILE_SECRET);
  fs.writeFileSync(path.join(dir, 'secrets/production.key'), FILE_SECRET);
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), config('off'));
  const env: NodeJS.ProcessEnv = { ...process.env, SHIPGATE_USER: 'carol', STAGING_API_KEY: STAGING_SECRET, PRODUCTION_API_KEY: PRODUCTION_SECRET, SHIPGATE_DATABASE_URL: '' };
  const { cli, json } = cliIn(dir, () => env);
  const secrets = [STAGING_SECRET, PRODUCTION_SECRET, FILE_SECRET];
  const hashes = secrets.map((s) => createHash('sha256').update(s).digest('hex').slice(0, 12));
  const noSecrets = (text: string, where: string) => {
    for (const s of [...secrets, ...hashes]) assert.ok(!text.includes(s), `${where} shows ${s.slice(0, 6)}…`);
  };

  // Staging runs web 1.4.2; production runs nothing yet.
  assert.equal((await cli(['release', 'register', 'web', '1.4.2', '--digest', `sha256:${'ab'.repeat(32)}`, '--commit', 'deadbeef1'])).code, 0);
  const staged = await json(['deploy', 'web', '1.4.2', 'staging']);
  for (const step of [['start', String(staged.deployment.id)], ['complete', String(staged.deployment.id), '--outcome', 'succeeded']]) {
    const r = await cli(step);
    assert.equal(r.code, 0, r.stderr);
  }

  const drift = await cli(['parity', 'staging', 'production']);
  assert.equal(drift.code, 4, drift.stdout + drift.stderr);
  assert.match(drift.stdout, /✘ API_KEY: differs \(secret; values not shown\)  \[critical\]/);
  assert.match(drift.stdout, /✘ FEATURE_CHECKOUT: differs \(staging "on", production "off"\)  \[critical\]/);
  assert.match(drift.stdout, /- REPLICAS: differs \(staging "2", production "6"\)  \[allowed\]/);
  assert.match(drift.stdout, /✔ SIGNING_KEY: same/);
  assert.match(drift.stdout, /! web: staging runs 1\.4\.2, production runs nothing/);
  assert.match(drift.stdout, /critical drift: API_KEY, FEATURE_CHECKOUT$/m);
  noSecrets(drift.stdout + drift.stderr, 'parity output');

  const asJson = await cli(['parity', 'staging', 'production', '--service', 'web', '--json']);
  assert.equal(asJson.code, 4);
  const report = JSON.parse(asJson.stdout).parity;
  assert.deepEqual(report.critical, ['API_KEY', 'FEATURE_CHECKOUT']);
  assert.deepEqual(report.versions, [{ service: 'web', from: '1.4.2', to: null, same: false }]);
  noSecrets(asJson.stdout, 'parity --json');

  const blocked = await cli(['deploy', 'web', '1.4.2', 'production']);
  assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
  assert.match(blocked.stdout, /parity.*critical drift from staging: API_KEY: differs \(secret; values not shown\); FEATURE_CHECKOUT: differs/);
  const id = /deployment (\d+):/.exec(blocked.stdout)![1];

  const bad = await cli(['parity', 'staging', 'qa']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown environment 'qa'/);

  // Fixed: the flag turned on in production, and the same key given to both.
  fs.writeFileSync(path.join(dir, 'shipgate.yaml'), config('on'));
  env.PRODUCTION_API_KEY = STAGING_SECRET;
  const clean = await cli(['parity', 'staging', 'production']);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /no critical drift/);
  const refreshed = await cli(['refresh', id]);
  assert.equal(refreshed.code, 0, refreshed.stdout + refreshed.stderr);
  assert.match(refreshed.stdout, /\[approved\]/);

  const audit = await cli(['audit', 'list', '--json', '--limit', '1000']);
  noSecrets(audit.stdout, 'the audit log');

  // Over HTTP: any configured user; no token → 401; unknown names → 404; bad query → 400.
  const { token } = await json(['token', 'create', 'ann']);
  env.PRODUCTION_API_KEY = PRODUCTION_SECRET;
  served = await startServe(dir, { ...env, SHIPGATE_LOG_LEVEL: 'info' });
  const get = (query: string, auth = true) => fetch(`${served!.url}/api/v1/parity?${query}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
  const ok = await get('from=staging&to=production');
  assert.equal(ok.status, 200);
  const body = await ok.text();
  assert.deepEqual(JSON.parse(body).parity.critical, ['API_KEY']);
  noSecrets(body, 'the HTTP answer');
  assert.equal((await get('from=staging&to=production', false)).status, 401);
  assert.equal((await get('from=staging&to=qa')).status, 404);
  assert.equal((await get('from=staging')).status, 400);
  assert.equal((await get('from=staging&to=production&secret=1')).status, 400);
  noSecrets(served.stderr(), 'the server log');
});

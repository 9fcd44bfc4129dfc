// Evidence packages and audit checkpoints as a user meets them: the real CLI (child processes) on
// a SQLite file, a key pair from `shipgate keys generate`, a release through staging into
// production with reports, a tick and an approval; the package exported locally and from a
// running `shipgate serve`, verified by `shipgate evidence verify` and by the shell recipe of
// docs/evidence.md (unzip, jq, base64, sha256sum, openssl); a one-byte change in any file of the
// zip refused with exit 4; serve writing signed checkpoints on its schedule, and one of them
// catching a history rewrite that `audit verify` alone cannot see.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { unzipSync, zipSync } from 'fflate';
import { storedRowHash } from '../../src/features/audit/chain.js';
import { cliIn } from '../support/cli.js';
import { tempDir } from '../support/databases.js';
import { startServe, type Served, until } from '../support/serve.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const REPORTS = path.join(ROOT, 'test/fixtures/reports');
const dir = tempDir('shipgate-evidence-e2e-');
const env = { ...process.env, SHIPGATE_DATABASE_URL: '', SHIPGATE_USER: '', SHIPGATE_SERVER: '', SHIPGATE_TOKEN: '' };
const { cli, json } = cliIn(dir, () => env);
const PUB = path.join(dir, 'keys/shipgate-signing.pub.pem');
let served: Served | null = null;

after(async () => {
  await served?.stop();
});

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
  - name: production
    policy:
      soak: 0
      vulnerabilities: { critical: 0, high: 5 }
      approvals: { required: [{ role: lead, count: 1 }] }
      checklist:
        - { id: runbook, text: Runbook updated }
evidence:
  key: keys/shipgate-signing.key.pem
  checkpoint_every: 1s
  checkpoints_dir: checkpoints
`,
);

async function ok(args: string[]) {
  const r = await cli(args);
  assert.equal(r.code, 0, `shipgate ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

/** The docs' "Verifying without shipgate" block, as written. */
function docsRecipe(): string {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/evidence.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### Verifying without shipgate'));
  const block = /```sh\n([\s\S]*?)\n```/.exec(section);
  assert.ok(block, 'docs/evidence.md has the recipe');
  return block[1];
}

/** Runs the recipe in a fresh directory on `zip`, with the public key under the names it uses. */
function runRecipe(zip: Buffer, script = docsRecipe()) {
  const work = tempDir('shipgate-evidence-recipe-');
  fs.writeFileSync(path.join(work, 'evidence-42.zip'), zip);
  fs.copyFileSync(PUB, path.join(work, 'shipgate-signing.pub.pem'));
  return spawnSync('bash', ['-c', script], { cwd: work, encoding: 'utf8', timeout: 60_000 });
}

function rezip(files: Record<string, Uint8Array>): Buffer {
  return Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([n, b]) => [n, [b, { mtime: new Date(1980, 0, 1) }]]))));
}

test('a signed evidence package, verified with and without shipgate; checkpoints from serve catch a rewrite', { timeout: 15 * 60_000 }, async () => {
  // Keys: the private half readable by its owner only; the key id is sha256 of the public key's DER.
  const keys = await json(['keys', 'generate', '-o', 'keys']);
  assert.equal(fs.statSync(keys.privateFile).mode & 0o777, 0o600);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-in', PUB, '-outform', 'DER']);
  assert.equal(keys.keyId, createHash('sha256').update(der).digest('hex'));
  const again = await cli(['keys', 'generate', '-o', 'keys']);
  assert.equal(again.code, 2, 'an existing key is never overwritten');
  assert.match(again.stderr, /exists already/);

  // staging, then production with a tick and an approval (rollouts run outside shipgate).
  await ok(['--as', 'carol', 'release', 'register', 'web', '1.0.0', '--digest', `sha256:${'e7'.repeat(32)}`, '--commit', 'abc1234', '--tests', path.join(REPORTS, 'jest-junit.xml'), '--scan', path.join(REPORTS, 'trivy-legacy.json')]);
  await ok(['--as', 'carol', 'deploy', 'web', '1.0.0', 'staging']);
  await ok(['--as', 'carol', 'start', '1']);
  await ok(['--as', 'carol', 'complete', '1', '--outcome', 'succeeded']);
  await ok(['--as', 'carol', 'verify', 'web', '1.0.0', 'staging', '--note', 'e2e green']);
  await cli(['--as', 'carol', 'deploy', 'web', '1.0.0', 'production']);
  assert.equal((await cli(['--as', 'alice', 'tick', '2', 'runbook'])).code, 3, 'ticked, still waiting for the approval');
  await ok(['--as', 'alice', 'approve', '2', '--comment', 'go if the error budget holds']);
  await ok(['--as', 'carol', 'start', '2']);
  await ok(['--as', 'carol', 'complete', '2', '--outcome', 'succeeded']);

  // Export and verify.
  const exported = await json(['--as', 'carol', 'evidence', '2', '-o', 'pkg.zip']);
  assert.equal(exported.keyId, keys.keyId);
  const verified = await ok(['evidence', 'verify', 'pkg.zip', '--key', PUB]);
  assert.match(verified.stdout, /^evidence package intact: 11 files match the manifest .* deployment 2: web 1\.0\.0 → production, succeeded/);
  const zip = fs.readFileSync(path.join(dir, 'pkg.zip'));
  const files = unzipSync(zip);
  // Among them the staging parity report: web 1.0.0 runs in staging and in production.
  const parity = JSON.parse(Buffer.from(files['staging-parity-report.json']).toString('utf8'));
  assert.deepEqual(parity.versions, [{ service: 'web', from: '1.0.0', to: '1.0.0', same: true }]);
  const approval = JSON.parse(Buffer.from(files['readiness-approval.json']).toString('utf8'));
  assert.equal(approval.approvals[0].comment, 'go if the error budget holds');

  // The docs' recipe, with the tools alone.
  const recipe = runRecipe(zip);
  assert.equal(recipe.status, 0, `the docs' recipe failed:\n${recipe.stdout}\n${recipe.stderr}`);
  assert.match(recipe.stdout, /Verified OK/);
  assert.match(recipe.stdout, /evidence package intact/);

  // One byte changed in each file of the zip (re-zipped): shipgate and the recipe refuse it.
  for (const name of Object.keys(files)) {
    const changed = { ...files, [name]: Uint8Array.from(files[name]) };
    const at = Math.floor(changed[name].length / 2);
    changed[name][at] ^= 0x01;
    fs.writeFileSync(path.join(dir, 'changed.zip'), rezip(changed));
    const r = await cli(['evidence', 'verify', 'changed.zip', '--key', PUB]);
    assert.equal(r.code, 4, `a change in ${name} must exit 4: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^evidence package NOT intact: /);
    if (name !== 'evidence.sigstore.json') assert.ok(r.stdout.includes(name), `the sentence names ${name}: ${r.stdout}`);
    const shell = runRecipe(fs.readFileSync(path.join(dir, 'changed.zip')));
    assert.notEqual(shell.status, 0, `the recipe must refuse a change in ${name}: ${shell.stdout}`);
  }
  // A file added, and another key.
  fs.writeFileSync(path.join(dir, 'extra.zip'), rezip({ ...files, 'late-approval.json': Buffer.from('{}\n') }));
  const extra = await cli(['evidence', 'verify', 'extra.zip', '--key', PUB]);
  assert.equal(extra.code, 4);
  assert.match(extra.stdout, /"late-approval\.json", which the manifest does not list/);
  assert.notEqual(runRecipe(fs.readFileSync(path.join(dir, 'extra.zip'))).status, 0);
  await ok(['keys', 'generate', '--type', 'ed25519', '-o', 'other']);
  const wrong = await cli(['evidence', 'verify', 'pkg.zip', '--key', 'other/shipgate-signing.pub.pem']);
  assert.equal(wrong.code, 4);
  assert.match(wrong.stdout, /not the key given/);
  const missing = await cli(['evidence', 'verify', 'nope.zip', '--key', PUB]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read .*nope\.zip: ENOENT/);

  // An Ed25519-signed package and the docs' Ed25519 line.
  await ok(['--as', 'carol', 'evidence', '2', '-o', 'ed.zip', '--signing-key', 'other/shipgate-signing.key.pem']);
  await ok(['evidence', 'verify', 'ed.zip', '--key', 'other/shipgate-signing.pub.pem']);
  const edLine = /For an \*\*Ed25519\*\* key, replace that line with:\n\n```sh\n(.*)\n```/.exec(fs.readFileSync(path.join(ROOT, 'docs/evidence.md'), 'utf8'))![1];
  const edScript = docsRecipe().replace(/^openssl dgst .*$/m, edLine);
  const work = tempDir('shipgate-evidence-recipe-ed-');
  fs.copyFileSync(path.join(dir, 'ed.zip'), path.join(work, 'evidence-42.zip'));
  fs.copyFileSync(path.join(dir, 'other/shipgate-signing.pub.pem'), path.join(work, 'shipgate-signing.pub.pem'));
  const ed = spawnSync('bash', ['-c', edScript], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  assert.equal(ed.status, 0, ed.stdout + ed.stderr);
  assert.match(ed.stdout, /Signature Verified Successfully/);

  // serve: checkpoints on its schedule, the package and an on-demand checkpoint over HTTP.
  const token = (await json(['token', 'create', 'carol'])).token;
  served = await startServe(dir, env);
  const cpDir = path.join(dir, 'checkpoints');
  const first = await until('serve writes a checkpoint', async () => (fs.existsSync(cpDir) ? fs.readdirSync(cpDir).find((f) => f.endsWith('.json')) : undefined), 60_000);
  const remote = { ...env, SHIPGATE_SERVER: served.url, SHIPGATE_TOKEN: token };
  const { cli: rcli } = cliIn(dir, () => remote);
  const fromServer = await rcli(['evidence', '2', '-o', 'served.zip']);
  assert.equal(fromServer.code, 0, fromServer.stderr);
  await ok(['evidence', 'verify', 'served.zip', '--key', PUB]);
  const withKey = await rcli(['evidence', '2', '-o', 'x.zip', '--signing-key', 'keys/shipgate-signing.key.pem']);
  assert.equal(withKey.code, 2, 'a key never travels to the server');
  const cp = await rcli(['audit', 'checkpoint', '-o', 'on-demand.json']);
  assert.equal(cp.code, 0, cp.stderr);
  const unknown = await fetch(`${served.url}/api/v1/deployments/99/evidence`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(unknown.status, 404);
  const anonymous = await fetch(`${served.url}/api/v1/deployments/2/evidence`);
  assert.equal(anonymous.status, 401);
  await served.stop();
  served = null;
  const checkpointFile = path.join(cpDir, first!);

  const { events } = await json(['audit', 'list', '--limit', '1000']);
  const actions = events.map((e: { action: string }) => e.action);
  assert.ok(actions.filter((a: string) => a === 'evidence.exported').length >= 3);
  assert.ok(actions.includes('audit.checkpoint'));

  const holds = await ok(['audit', 'verify', '--checkpoint', checkpointFile, '--checkpoint', 'on-demand.json', '--key', PUB]);
  assert.equal((holds.stdout.match(/^checkpoint ok: /gm) ?? []).length, 2, holds.stdout);

  // A store admin edits event #3, recomputes every hash and moves the head.
  const db = new Database(path.join(dir, '.shipgate/shipgate.db'));
  const rows = db.prepare('select * from audit_events order by seq').all() as { seq: number; at: string; actor: string; action: string; subject: string; data: string }[];
  let prev = '0'.repeat(64);
  for (const r of rows) {
    const row = r.seq === 3 ? { ...r, actor: 'mallory' } : r;
    const hash = storedRowHash(prev, r.seq, row);
    db.prepare('update audit_events set actor = ?, prev_hash = ?, hash = ? where seq = ?').run(row.actor, prev, hash, r.seq);
    prev = hash;
  }
  db.prepare('update audit_head set hash = ? where id = 1').run(prev);
  db.close();
  const plain = await cli(['audit', 'verify']);
  assert.equal(plain.code, 0, 'without a checkpoint the rewrite goes unseen');
  const caught = await cli(['audit', 'verify', '--checkpoint', checkpointFile, '--key', PUB]);
  assert.equal(caught.code, 4, caught.stdout + caught.stderr);
  assert.match(caught.stdout, /CHECKPOINT FAILED: history up to #\d+ was rewritten/);
  // The package's own checkpoint catches it too.
  fs.writeFileSync(path.join(dir, 'pkg-checkpoint.json'), files['audit-checkpoint.json']);
  const byPackage = await cli(['audit', 'verify', '--checkpoint', 'pkg-checkpoint.json', '--key', PUB]);
  assert.equal(byPackage.code, 4);
});

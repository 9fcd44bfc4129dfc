// The `evidence:` section and the signing key it names: paths relative to the config file,
// defaults, file:line errors, and keys that cannot be used refused by name, never by content.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { evidenceSettings } from '../../../src/features/evidence/config.js';
import { configuredSigningKey, generateKeys, readVerifyingKey, requireSigningKey } from '../../../src/features/evidence/keys.js';
import { tempDir } from '../../support/databases.js';

const BASE = `version: 1
roles: [dev]
users: [{ name: a, roles: [dev] }]
services: [{ name: web }]
environments:
  - name: staging
    policy: { auto_approve: true }
`;

test('the section resolves paths against the config file and fills its defaults', () => {
  const c = parseConfig(`${BASE}evidence:\n  key: keys/k.pem\n  checkpoint_every: 30m\n`, '/srv/sg/shipgate.yaml');
  assert.deepEqual(c.evidence, { keyFile: '/srv/sg/keys/k.pem', checkpointEveryMs: 1_800_000, checkpointsDir: '/srv/sg/audit-checkpoints' });
  const none = parseConfig(BASE, '/srv/sg/shipgate.yaml');
  assert.deepEqual(evidenceSettings(none.evidence, none.dir), { keyFile: undefined, keyEnv: undefined, checkpointEveryMs: 3_600_000, checkpointsDir: '/srv/sg/audit-checkpoints' });
});

test('bad sections are refused at file:line', () => {
  assert.throws(() => parseConfig(`${BASE}evidence:\n  key: k.pem\n  key_env: SG_KEY\n`, '/srv/sg/shipgate.yaml'), /shipgate\.yaml:10:\d+: evidence\.key_env: give key or key_env, not both/);
  assert.throws(() => parseConfig(`${BASE}evidence:\n  checkpoint_every: soon\n`, '/srv/sg/shipgate.yaml'), /shipgate\.yaml:9:\d+: evidence\.checkpoint_every: expected a duration/);
  assert.throws(() => parseConfig(`${BASE}evidence:\n  key_env: 1-bad\n`, '/srv/sg/shipgate.yaml'), /evidence\.key_env: expected the name of an environment variable/);
});

test('keys that cannot sign are refused by name, and their content never shows', () => {
  const dir = tempDir('shipgate-evidence-keys-');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaFile = path.join(dir, 'rsa.pem');
  fs.writeFileSync(rsaFile, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  assert.throws(() => configuredSigningKey({ keyFile: rsaFile }, {}), /rsa\.pem is a rsa key; shipgate signs with ECDSA P-256 or Ed25519/);
  const p384 = path.join(dir, 'p384.pem');
  fs.writeFileSync(p384, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  assert.throws(() => configuredSigningKey({ keyFile: p384 }, {}), /a ec \(secp384r1\) key/);
  const secret = '-----BEGIN PRIVATE KEY-----\nTOPSECRETNOTAKEY\n-----END PRIVATE KEY-----\n';
  assert.throws(
    () => configuredSigningKey({ keyEnv: 'SG_KEY' }, { SG_KEY: secret }),
    (err: Error) => /the environment variable SG_KEY does not hold a PEM private key/.test(err.message) && !err.message.includes('TOPSECRET'),
  );
  assert.throws(() => configuredSigningKey({ keyEnv: 'SG_KEY' }, {}), /SG_KEY, but that environment variable is not set/);
  assert.throws(() => configuredSigningKey({ keyFile: path.join(dir, 'absent.pem') }, {}), /cannot read the signing key .*absent\.pem: ENOENT/);
  assert.throws(() => requireSigningKey({}, {}), /no signing key: pass --signing-key FILE, or set evidence\.key/);
  assert.equal(configuredSigningKey({}, {}), null);

  // A key from the environment signs like the file it came from.
  const k = generateKeys(dir, 'ed25519');
  const fromEnv = configuredSigningKey({ keyEnv: 'SG_KEY' }, { SG_KEY: fs.readFileSync(k.privateFile, 'utf8') })!;
  assert.equal(fromEnv.keyId, k.keyId);
  assert.equal(readVerifyingKey(k.publicFile).keyId, k.keyId);
  assert.equal(fs.statSync(k.privateFile).mode & 0o777, 0o600);
  assert.throws(() => generateKeys(dir, 'ed25519'), /exists already; shipgate never overwrites a key/);
  assert.throws(() => readVerifyingKey(rsaFile), /rsa key/);
});

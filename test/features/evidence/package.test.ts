// Evidence packages of a real deployment on a SQLite file: staging then production, with
// reports, approvals, a checklist tick and a rollback rehearsal recorded. The package verifies
// with the signer's public key; a one-byte change in any file, in the signature or in the signed
// statement is refused with a sentence naming what differs; so are a wrong key and a file added
// or removed. Sigstore's own parser and verifier accept the bundle.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { type Actor, SYSTEM } from '../../../src/features/access/actor.js';
import { ARTIFACT_PRODUCERS } from '../../../src/features/evidence/artifacts.js';
import { generateKeys, readSigningKey, readVerifyingKey, type SigningKey, type VerifyingKey } from '../../../src/features/evidence/keys.js';
import { BUNDLE_FILE, buildPackage, MANIFEST_FILE, readZip, sha256Hex, verifyFiles, verifyPackage } from '../../../src/features/evidence/package.js';
import { exportEvidence } from '../../../src/features/evidence/service.js';
import { createShipgate, type Shipgate } from '../../../src/main.js';
import { testConfig } from '../../support/config.js';
import { tempDir } from '../../support/databases.js';
import { freshStore } from '../../support/stores.js';

const REPORTS = path.resolve(import.meta.dirname, '../../fixtures/reports');
const as = (user: string): Actor => ({ user, via: 'token' });

/** staging then production for web 1.4.2, as a team would: returns the production deployment's id. */
export async function shipWeb(sg: Shipgate): Promise<number> {
  await sg.releases.register(as('carol'), {
    service: 'web',
    version: '1.4.2',
    digest: `sha256:${'4e'.repeat(32)}`,
    commit: 'abc1234',
    reports: [
      { name: 'jest-junit.xml', content: fs.readFileSync(path.join(REPORTS, 'jest-junit.xml'), 'utf8') },
      { name: 'trivy-legacy.json', content: fs.readFileSync(path.join(REPORTS, 'trivy-legacy.json'), 'utf8') },
    ],
  });
  await sg.releases.verify(as('carol'), 'web', '1.4.2', 'dev');
  const staging = (await sg.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'staging' })).view.deployment.id;
  await sg.deployments.start(as('carol'), staging);
  await sg.deployments.complete(as('carol'), staging, 'succeeded');
  await sg.releases.verify(as('carol'), 'web', '1.4.2', 'staging', 'e2e suite green');
  await sg.rollouts.recordRehearsal(as('carol'), 'web', '1.4.2', 'staging', { ok: false, msToTraffic: 900, msToVerified: 4100, problems: ['first try'] });
  await sg.rollouts.recordRehearsal(as('carol'), 'web', '1.4.2', 'staging', { ok: true, msToTraffic: 310, msToVerified: 2200, problems: [] });
  const prod = (await sg.deployments.request(as('carol'), { service: 'web', version: '1.4.2', environment: 'production' })).view.deployment.id;
  await sg.decisions.tick(as('alice'), prod, 'runbook', 'runbook v7 reviewed');
  await sg.decisions.decide(as('alice'), prod, { decision: 'approve', comment: 'go, with the canary watched' });
  await sg.decisions.decide(as('bob'), prod, { decision: 'approve', comment: 'condition: rollback rehearsed' });
  await sg.deployments.start(as('carol'), prod);
  await sg.deployments.complete(as('carol'), prod, 'succeeded');
  return prod;
}

export function evidenceConfig() {
  return testConfig({ soakMinutes: 0, maxVulnerabilities: {}, checklist: [{ id: 'runbook', text: 'Runbook updated for this release' }] });
}

describe('evidence package of a real deployment (SQLite file)', () => {
  let sg: Shipgate;
  let key: SigningKey;
  let pub: VerifyingKey;
  let otherPub: VerifyingKey;
  let zip: Uint8Array;
  let files: Map<string, Uint8Array>;
  let id: number;

  before(async () => {
    const dir = tempDir('shipgate-evidence-');
    const k = generateKeys(path.join(dir, 'keys'));
    key = readSigningKey(k.privateFile);
    pub = readVerifyingKey(k.publicFile);
    otherPub = readVerifyingKey(generateKeys(path.join(dir, 'other')).publicFile);
    const fresh = await freshStore('sqlite');
    sg = createShipgate({ config: evidenceConfig(), store: fresh.store });
    id = await shipWeb(sg);
    zip = (await exportEvidence(sg, as('gina'), id, key)).zip;
    const read = readZip(zip);
    assert.ok('files' in read);
    files = read.files;
  });
  after(() => sg?.store.close());

  test('the package holds the manifest, the signature and the artifacts, and verifies with the public key', async () => {
    const r = verifyPackage(zip, pub);
    assert.ok(r.ok, r.ok ? '' : r.problem);
    assert.deepEqual([...files.keys()].sort(), [
      'audit-checkpoint.json',
      'audit-excerpt.jsonl',
      'audit-verification.json',
      'deployment-checklist.json',
      'release-and-deployment.json',
      BUNDLE_FILE,
      'intake-validation.json',
      MANIFEST_FILE,
      'readiness-approval.json',
      'rollback-verification.json',
      'security-compliance.json',
      'smoke-and-test-results.json',
      'staging-deployment-log.json',
      'staging-parity-report.json',
    ].sort());
    const read = (name: string) => JSON.parse(Buffer.from(files.get(name)!).toString('utf8'));
    const manifest = read(MANIFEST_FILE);
    assert.equal(manifest.files.length, 12);
    const parity = read('staging-parity-report.json');
    assert.deepEqual([parity.from, parity.to], ['staging', 'production'], 'the staging parity report compares the environment the release came from');
    assert.ok(Array.isArray(parity.versions) && parity.versions.length === 1, 'with the running versions of the service');
    for (const f of manifest.files) assert.equal(f.sha256, sha256Hex(files.get(f.name)!), `${f.name} is listed with its sha256`);

    const approvals = read('readiness-approval.json').approvals;
    assert.deepEqual(approvals.map((a: { user: string; role: string; comment: string }) => [a.user, a.role, a.comment]), [
      ['alice', 'devops-lead', 'go, with the canary watched'],
      ['bob', 'tech-lead', 'condition: rollback rehearsed'],
    ]);
    assert.deepEqual(read('deployment-checklist.json').items[0].tick.user, 'alice');
    const gate = read('intake-validation.json');
    assert.ok(gate.checks.find((c: { id: string }) => c.id === 'approvals').reason.includes('approvals complete'));
    assert.ok(gate.evaluations.length >= 1);
    assert.equal(read('rollback-verification.json').report.msToTraffic, 310, 'the newest rehearsal, not the first');
    const staging = read('staging-deployment-log.json');
    assert.equal(staging.environment, 'staging');
    assert.equal(staging.deployments[0].state, 'succeeded');
    assert.ok(staging.deployments[0].events.some((e: { action: string }) => e.action === 'deployment.state'));
    const scans = read('security-compliance.json').scans;
    assert.equal(scans[0].name, 'trivy-legacy.json');
    assert.ok(scans[0].vulnerabilities);
    assert.equal(read('smoke-and-test-results.json').testReports[0].name, 'jest-junit.xml');
    assert.equal(read('audit-verification.json').result.ok, true);

    const excerpt = Buffer.from(files.get('audit-excerpt.jsonl')!).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(excerpt.some((e) => e.subject === `deployment:${id}` && e.action === 'approval.approved'));
    assert.ok(excerpt.some((e) => e.subject === 'release:web@1.4.2' && e.action === 'release.registered'));

    // The statement: the manifest's digest and the artifact's, the predicate with the head.
    const bundle = read(BUNDLE_FILE);
    assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(bundle.verificationMaterial.publicKey.hint, pub.keyId);
    assert.ok(bundleFromJSON(bundle), "Sigstore's parser accepts the bundle");
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
    assert.equal(statement._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(statement.subject, [
      { name: MANIFEST_FILE, digest: { sha256: sha256Hex(files.get(MANIFEST_FILE)!) } },
      { name: 'web@1.4.2', digest: { sha256: '4e'.repeat(32) } },
    ]);
    assert.equal(statement.predicate.outcome, 'succeeded');
    assert.equal(statement.predicate.environment, 'production');
    const head = statement.predicate.auditHead;
    assert.equal(excerpt.at(-1).seq <= head.seq, true);

    // Exporting was audited, with the manifest's digest and the key.
    const exported = (await sg.audit.events({ subject: `deployment:${id}`, limit: 1000 })).filter((e) => e.action === 'evidence.exported');
    assert.equal(exported.length, 1);
    assert.deepEqual(exported[0].data, { sha256: sha256Hex(files.get(MANIFEST_FILE)!), files: 12, keyId: pub.keyId, via: 'token' });
    assert.equal(exported[0].actor, 'gina');
  });

  test('a one-byte change anywhere is refused: every file at spread positions, every byte of the signature bundle', () => {
    let tried = 0;
    for (const [name, bytes] of files) {
      // Every byte of the bundle (envelope, signature, statement, key hint, layout); elsewhere the
      // first, last and 30 spread positions of each file.
      const positions = name === BUNDLE_FILE ? bytes.map((_, i) => i) : [...new Set([0, bytes.length - 1, ...Array.from({ length: 30 }, (_, k) => Math.floor(((k + 1) * bytes.length) / 31))])];
      for (const at of positions) {
        const changed = new Map(files);
        const copy = Uint8Array.from(bytes);
        copy[at] ^= 0x01;
        changed.set(name, copy);
        const r = verifyFiles(changed, pub);
        tried++;
        assert.equal(r.ok, false, `a change at byte ${at} of ${name} must be refused`);
        if (!r.ok && name !== BUNDLE_FILE) assert.match(r.problem, new RegExp(name.replace(/\./g, '\\.')), `the sentence names ${name}: ${r.problem}`);
      }
    }
    assert.ok(tried > 1000, `tried ${tried} changes`);
  });

  test('a changed byte in the zip itself is refused, whole file or not', () => {
    // The zip's stored bytes, changed at spread positions: a damaged entry, a renamed file or changed content.
    const step = Math.max(1, Math.floor(zip.length / 200));
    let refused = 0;
    let unchanged = 0;
    for (let at = 0; at < zip.length; at += step) {
      const copy = Uint8Array.from(zip);
      copy[at] ^= 0x01;
      const r = verifyPackage(copy, pub);
      if (!r.ok) refused++;
      else {
        // Only the zip's own bookkeeping (timestamps, attributes) may change without a content change.
        const read = readZip(copy);
        assert.ok('files' in read);
        for (const [n, b] of files) assert.deepEqual(read.files.get(n), b, `byte ${at} changed ${n} yet the package verified`);
        unchanged++;
      }
    }
    assert.ok(refused > unchanged, `refused ${refused}, harmless ${unchanged}`);
  });

  test('the signature, the statement and the key are each checked', () => {
    const bundle = JSON.parse(Buffer.from(files.get(BUNDLE_FILE)!).toString('utf8'));
    const withBundle = (b: unknown) => new Map(files).set(BUNDLE_FILE, Buffer.from(`${JSON.stringify(b, null, 2)}\n`));
    // A statement re-signed by nobody: the payload changed, the signature kept.
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
    statement.predicate.outcome = 'rolled_back';
    const forged = structuredClone(bundle);
    forged.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const r1 = verifyFiles(withBundle(forged), pub);
    assert.ok(!r1.ok && /signature does not verify/.test(r1.problem), JSON.stringify(r1));
    // Another key's public half: refused before any file is trusted.
    const r2 = verifyFiles(files, otherPub);
    assert.ok(!r2.ok && /not the key given/.test(r2.problem), JSON.stringify(r2));
    // A second signature slipped in.
    const twice = structuredClone(bundle);
    twice.dsseEnvelope.signatures.push(twice.dsseEnvelope.signatures[0]);
    assert.equal(verifyFiles(withBundle(twice), pub).ok, false);
  });

  test('a file missing or added is refused, and named', () => {
    const missing = new Map(files);
    missing.delete('readiness-approval.json');
    const r1 = verifyFiles(missing, pub);
    assert.ok(!r1.ok && r1.problem === 'readiness-approval.json is listed in the manifest but missing from the package', JSON.stringify(r1));
    const extra = new Map(files).set('late-approval.json', Buffer.from('{"user":"mallory"}'));
    const r2 = verifyFiles(extra, pub);
    assert.ok(!r2.ok && /"late-approval\.json", which the manifest does not list/.test(r2.problem), JSON.stringify(r2));
    const noSignature = new Map(files);
    noSignature.delete(BUNDLE_FILE);
    assert.match((verifyFiles(noSignature, pub) as { problem: string }).problem, /evidence\.sigstore\.json \(the signature\) is missing/);
  });

  test('Ed25519 keys sign too, and the same content gives the same zip byte for byte', async () => {
    const dir = tempDir('shipgate-evidence-ed-');
    const k = generateKeys(dir, 'ed25519');
    const edKey = readSigningKey(k.privateFile);
    const artifacts = [
      { name: 'b.json', bytes: Buffer.from('{"b":1}\n') },
      { name: 'a.json', bytes: Buffer.from('{"a":1}\n') },
    ];
    const meta = {
      deployment: 7,
      service: 'web',
      version: '1.0.0',
      environment: 'production',
      artifactDigest: `sha256:${'ab'.repeat(32)}`,
      predicate: { deployment: 7, service: 'web', version: '1.0.0', environment: 'production', outcome: 'succeeded', exportedAt: '2026-11-24T00:00:00.000Z', auditHead: { seq: 1, hash: 'ff'.repeat(32) } },
    };
    const one = buildPackage(artifacts, meta, edKey).zip;
    const two = buildPackage([...artifacts].reverse(), meta, edKey).zip;
    assert.deepEqual(Buffer.from(one), Buffer.from(two), 'Ed25519 signatures are deterministic, the zip has fixed times and sorted names');
    assert.ok(verifyPackage(one, readVerifyingKey(k.publicFile)).ok);
    assert.equal(verifyPackage(one, pub).ok, false, 'an ECDSA key does not verify an Ed25519 signature');
    assert.throws(() => buildPackage([{ name: '../escape.json', bytes: Buffer.from('{}') }], meta, edKey), /not a plain, unique file name/);
  });

  test('export refuses an unknown user and an unknown deployment, writing no event', async () => {
    const before = (await sg.audit.head()).seq;
    await assert.rejects(exportEvidence(sg, as('mallory'), id, key), /unknown user 'mallory'/);
    await assert.rejects(exportEvidence(sg, as('gina'), 9999, key), /9999/);
    assert.equal((await sg.audit.head()).seq, before);
    assert.ok(ARTIFACT_PRODUCERS.length >= 10);
    assert.ok((await exportEvidence(sg, SYSTEM, id, key)).files === 12);
  });
});

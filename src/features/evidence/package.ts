// The evidence package as bytes: the artifacts, a manifest listing each with its sha256 and
// size, and a Sigstore bundle (v0.3) holding a DSSE envelope over an in-toto Statement v1 whose
// subjects are the manifest's digest and the released artifact's digest. Written as a zip with
// fixed timestamps and files in name order, so the same content gives the same zip. The
// verifier reads the zip in memory (never onto disk) and names the first thing that differs.
import { createHash } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier } from '@sigstore/verify';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import type { Artifact } from './artifacts.js';
import { bundleText, IN_TOTO_PAYLOAD_TYPE, signEnvelope, type Statement, STATEMENT_TYPE, toBundle, verifyEnvelope } from './dsse.js';
import type { SigningKey, VerifyingKey } from './keys.js';

export const MANIFEST_FILE = 'pre-deployment-manifest.json';
export const BUNDLE_FILE = 'evidence.sigstore.json';
export const PREDICATE_TYPE = 'https://shipgate.dev/evidence/v1';
export const MANIFEST_TYPE = 'https://shipgate.dev/evidence/manifest/v1';

// DOS timestamps cannot go before 1980; one fixed moment for every entry.
const ZIP_TIME = new Date(1980, 0, 1, 0, 0, 0);
/** The most an entry may unpack to: a package holds JSON, not a zip bomb. */
const MAX_ENTRY_BYTES = 256 * 1024 * 1024;

export interface ManifestEntry {
  name: string;
  sha256: string;
  size: number;
}

export interface Manifest {
  _type: typeof MANIFEST_TYPE;
  deployment: number;
  service: string;
  version: string;
  environment: string;
  files: ManifestEntry[];
}

/** What the statement says besides its subjects. */
export interface EvidencePredicate {
  deployment: number;
  service: string;
  version: string;
  environment: string;
  /** The deployment's state when the package was made. */
  outcome: string;
  exportedAt: string;
  manifest: { files: number; bytes: number };
  auditHead: { seq: number; hash: string };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Builds the signed package. `artifactDigest` is the release's `sha256:<hex>`; it becomes the
 * statement's second subject, named `<service>@<version>`.
 */
export function buildPackage(
  artifacts: Artifact[],
  meta: Omit<Manifest, '_type' | 'files'> & { artifactDigest: string; predicate: Omit<EvidencePredicate, 'manifest'> },
  key: SigningKey,
): { zip: Uint8Array; manifestSha256: string; files: number } {
  const names = new Set<string>([MANIFEST_FILE, BUNDLE_FILE]);
  for (const a of artifacts) {
    if (!SAFE_NAME.test(a.name) || names.has(a.name)) throw new Error(`evidence artifact name ${JSON.stringify(a.name)} is not a plain, unique file name`);
    names.add(a.name);
  }
  const sorted = [...artifacts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const manifest: Manifest = {
    _type: MANIFEST_TYPE,
    deployment: meta.deployment,
    service: meta.service,
    version: meta.version,
    environment: meta.environment,
    files: sorted.map((a) => ({ name: a.name, sha256: sha256Hex(a.bytes), size: a.bytes.length })),
  };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  const manifestSha256 = sha256Hex(manifestBytes);
  const statement: Statement = {
    _type: STATEMENT_TYPE,
    subject: [
      { name: MANIFEST_FILE, digest: { sha256: manifestSha256 } },
      { name: `${meta.service}@${meta.version}`, digest: { sha256: meta.artifactDigest.replace(/^sha256:/, '') } },
    ],
    predicateType: PREDICATE_TYPE,
    predicate: { ...meta.predicate, manifest: { files: sorted.length, bytes: sorted.reduce((n, a) => n + a.bytes.length, 0) } } satisfies EvidencePredicate,
  };
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement), 'utf8'), key);
  const bundle = Buffer.from(bundleText(toBundle(envelope, key.keyId)), 'utf8');
  const entries: [string, Uint8Array][] = [[MANIFEST_FILE, manifestBytes], [BUNDLE_FILE, bundle], ...sorted.map((a): [string, Uint8Array] => [a.name, a.bytes])];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const zippable: Zippable = {};
  for (const [name, bytes] of entries) zippable[name] = [bytes, { mtime: ZIP_TIME, level: 6 }];
  return { zip: zipSync(zippable), manifestSha256, files: sorted.length };
}

export type PackageCheck =
  | { ok: true; keyId: string; manifestSha256: string; files: number; statement: Statement }
  | { ok: false; problem: string };

function fail(problem: string): PackageCheck {
  return { ok: false, problem };
}

/** Opens a zip in memory; null with the reason when it is not a zip shipgate can read. */
export function readZip(zip: Uint8Array): { files: Map<string, Uint8Array> } | { problem: string } {
  let tooBig: string | null = null;
  let twice: string | null = null;
  const seen = new Set<string>();
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, {
      filter: (f) => {
        // Two entries of one name: tools that unpack would show one, this reader the other.
        if (seen.has(f.name)) twice ??= f.name;
        seen.add(f.name);
        if (f.originalSize > MAX_ENTRY_BYTES) tooBig ??= f.name;
        return f.originalSize <= MAX_ENTRY_BYTES;
      },
    });
  } catch (err) {
    return { problem: `the package is not a readable zip (${(err as Error).message})` };
  }
  if (twice) return { problem: `the package holds two entries named ${JSON.stringify(twice)}` };
  if (tooBig) return { problem: `the package's entry ${JSON.stringify(tooBig)} unpacks to more than ${MAX_ENTRY_BYTES} bytes` };
  return { files: new Map(Object.entries(entries)) };
}

/** Verifies a package's files (name → bytes) with `key`; names the first thing that differs. */
export function verifyFiles(files: Map<string, Uint8Array>, key: VerifyingKey): PackageCheck {
  const bundleBytes = files.get(BUNDLE_FILE);
  if (!bundleBytes) return fail(`${BUNDLE_FILE} (the signature) is missing from the package`);
  const manifestBytes = files.get(MANIFEST_FILE);
  if (!manifestBytes) return fail(`${MANIFEST_FILE} is missing from the package`);

  // The signature: the bundle must be exactly as shipgate writes it, and its envelope verify.
  const text = Buffer.from(bundleBytes).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail(`${BUNDLE_FILE} is not JSON: it was changed`);
  }
  const b = parsed as { mediaType?: unknown; verificationMaterial?: { publicKey?: { hint?: unknown } }; dsseEnvelope?: unknown };
  if (b?.mediaType !== 'application/vnd.dev.sigstore.bundle.v0.3+json') return fail(`${BUNDLE_FILE} is not a Sigstore bundle v0.3 (mediaType ${JSON.stringify(b?.mediaType)})`);
  const hint = b.verificationMaterial?.publicKey?.hint;
  if (hint !== key.keyId) return fail(`${BUNDLE_FILE} names signing key ${JSON.stringify(hint)}, not the key given (${key.keyId})`);
  const checked = verifyEnvelope(b.dsseEnvelope, key, IN_TOTO_PAYLOAD_TYPE);
  if (!checked.ok) return fail(`${BUNDLE_FILE}: ${checked.problem}`);
  let canonical: string;
  try {
    canonical = bundleText(parsed as never);
  } catch {
    return fail(`${BUNDLE_FILE} is not in the form shipgate writes: it was changed`);
  }
  if (canonical !== text) return fail(`${BUNDLE_FILE} is not in the form shipgate writes: bytes outside the signed statement were changed`);
  // The same check by Sigstore's own verifier, with the given key as the only trusted key.
  const sigstore = sigstoreCheck(parsed, key);
  if (sigstore) return fail(`${BUNDLE_FILE}: ${sigstore}`);

  let statement: Statement;
  try {
    statement = JSON.parse(checked.body.toString('utf8')) as Statement;
  } catch {
    return fail('the signed statement is not JSON');
  }
  if (statement._type !== STATEMENT_TYPE || statement.predicateType !== PREDICATE_TYPE || !Array.isArray(statement.subject)) {
    return fail('the signed statement is not a shipgate evidence statement (in-toto Statement v1)');
  }

  // The manifest: its digest is the statement's subject.
  const manifestSha256 = sha256Hex(manifestBytes);
  const subject = statement.subject.find((s) => s?.name === MANIFEST_FILE);
  if (!subject) return fail(`the signed statement has no subject ${MANIFEST_FILE}`);
  if (subject.digest?.sha256 !== manifestSha256) {
    return fail(`${MANIFEST_FILE} was changed: its sha256 is ${manifestSha256}, the signed statement says ${subject.digest?.sha256}`);
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as Manifest;
  } catch {
    return fail(`${MANIFEST_FILE} is not JSON`);
  }
  if (manifest._type !== MANIFEST_TYPE || !Array.isArray(manifest.files)) return fail(`${MANIFEST_FILE} is not a shipgate manifest`);

  // Every file: present, the size and sha256 the manifest gives; nothing extra.
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.name);
    const bytes = files.get(f.name);
    if (!bytes) return fail(`${f.name} is listed in the manifest but missing from the package`);
    if (bytes.length !== f.size) return fail(`${f.name} was changed: it is ${bytes.length} bytes, the manifest says ${f.size}`);
    const sha = sha256Hex(bytes);
    if (sha !== f.sha256) return fail(`${f.name} was changed: its sha256 is ${sha}, the manifest says ${f.sha256}`);
  }
  const extra = [...files.keys()].filter((n) => n !== MANIFEST_FILE && n !== BUNDLE_FILE && !listed.has(n)).sort();
  if (extra.length) return fail(`the package holds ${extra.map((n) => JSON.stringify(n)).join(', ')}, which the manifest does not list`);
  return { ok: true, keyId: key.keyId, manifestSha256, files: manifest.files.length, statement };
}

/** Null when @sigstore/verify accepts the bundle with `key` as the one trusted key; else why not. */
function sigstoreCheck(json: unknown, key: VerifyingKey): string | null {
  try {
    const bundle = bundleFromJSON(json);
    const trust = {
      certificateAuthorities: [],
      timestampAuthorities: [],
      tlogs: [],
      ctlogs: [],
      publicKey: (hint: string) => {
        if (hint !== key.keyId) throw new Error(`unknown key ${hint}`);
        return { publicKey: key.publicKey, validFor: () => true };
      },
    };
    // No transparency log or timestamp authority: the package is verified against the key alone.
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle));
    return null;
  } catch (err) {
    return `Sigstore's verifier refuses it: ${(err as Error).message}`;
  }
}

export function verifyPackage(zip: Uint8Array, key: VerifyingKey): PackageCheck {
  const read = readZip(zip);
  if ('problem' in read) return fail(read.problem);
  return verifyFiles(read.files, key);
}

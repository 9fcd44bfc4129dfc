// Signing keys of evidence packages and audit checkpoints: generating a pair, loading the
// private key the config (or --signing-key) names, loading a public key to verify with, and the key id.
// The key id is the sha256 (hex) of the public key's SubjectPublicKeyInfo DER encoding, the
// bytes `openssl pkey -pubin -in pub.pem -outform DER | sha256sum` hashes.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../errors.js';
import type { EvidenceConfig } from './config.js';

export type KeyType = 'ecdsa-p256' | 'ed25519';
export const KEY_TYPES: KeyType[] = ['ecdsa-p256', 'ed25519'];

export interface SigningKey {
  type: KeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export interface VerifyingKey {
  type: KeyType;
  publicKey: KeyObject;
  keyId: string;
}

/** The file names `shipgate keys generate` writes. */
export const PRIVATE_KEY_FILE = 'shipgate-signing.key.pem';
export const PUBLIC_KEY_FILE = 'shipgate-signing.pub.pem';

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

function typeOf(key: KeyObject, where: string): KeyType {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new InputError(`${where} is a ${key.asymmetricKeyType}${curve ? ` (${curve})` : ''} key; shipgate signs with ECDSA P-256 or Ed25519 keys (shipgate keys generate)`);
}

/** Generates a key pair and writes it into `dir`: the private key readable by its owner only. */
export function generateKeys(dir: string, type: KeyType = 'ecdsa-p256'): { privateFile: string; publicFile: string; keyId: string; type: KeyType } {
  if (!KEY_TYPES.includes(type)) throw new InputError(`--type must be ${KEY_TYPES.join(' or ')} (got '${type}')`);
  const privateFile = path.join(dir, PRIVATE_KEY_FILE);
  const publicFile = path.join(dir, PUBLIC_KEY_FILE);
  for (const f of [privateFile, publicFile]) {
    if (fs.existsSync(f)) throw new InputError(`${f} exists already; shipgate never overwrites a key: move it away or choose another directory with -o`);
  }
  const pair = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // Written under a temporary name and renamed, so a half-written key never sits at the name.
  const write = (file: string, text: string, mode: number) => {
    const tmp = `${file}.partial`;
    fs.rmSync(tmp, { force: true });
    fs.writeFileSync(tmp, text, { mode, flag: 'wx' });
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  };
  try {
    fs.mkdirSync(dir, { recursive: true });
    write(privateFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    write(publicFile, pair.publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  } catch (err) {
    throw new InputError(`cannot write the key pair into ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { privateFile, publicFile, keyId: keyIdOf(pair.publicKey), type };
}

function signingKeyFrom(pem: string, where: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    // The reason OpenSSL gives can quote the input: never repeat it.
    throw new InputError(`${where} does not hold a PEM private key (expected -----BEGIN PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)`);
  }
  const type = typeOf(privateKey, where);
  const publicKey = createPublicKey(privateKey);
  return { type, privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** Reads the private key in a PEM file. */
export function readSigningKey(file: string): SigningKey {
  return signingKeyFrom(readText(file, 'signing key'), file);
}

/**
 * The key to sign with: `--signing-key FILE` when given, else the config's evidence.key or
 * evidence.key_env. Null when none is configured.
 */
export function configuredSigningKey(c: EvidenceConfig, env: NodeJS.ProcessEnv, override?: string): SigningKey | null {
  if (override) return readSigningKey(override);
  if (c.keyFile) return readSigningKey(c.keyFile);
  if (c.keyEnv) {
    const pem = env[c.keyEnv];
    if (!pem) throw new InputError(`evidence.key_env names ${c.keyEnv}, but that environment variable is not set`);
    return signingKeyFrom(pem, `the environment variable ${c.keyEnv}`);
  }
  return null;
}

/** configuredSigningKey, refusing to go on without one. */
export function requireSigningKey(c: EvidenceConfig, env: NodeJS.ProcessEnv, override?: string): SigningKey {
  const key = configuredSigningKey(c, env, override);
  if (!key) {
    throw new InputError('no signing key: pass --signing-key FILE, or set evidence.key (or evidence.key_env) in shipgate.yaml; `shipgate keys generate` writes a key pair');
  }
  return key;
}

/** A public key to verify with, from a PEM file holding a public key (or a private key). */
export function readVerifyingKey(file: string): VerifyingKey {
  const pem = readText(file, 'public key');
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(pem);
  } catch {
    throw new InputError(`${file} does not hold a PEM public key (expected -----BEGIN PUBLIC KEY-----)`);
  }
  return { type: typeOf(publicKey, file), publicKey, keyId: keyIdOf(publicKey) };
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

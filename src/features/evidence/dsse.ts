// DSSE envelopes (Dead Simple Signing Envelope, v1), the in-toto Statement v1 an evidence
// package signs, and the Sigstore bundle v0.3 that carries the envelope with the key's hint.
// Signatures are over the pre-authentication encoding (PAE), never over the payload alone:
//   PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body
// with lengths as ASCII decimal byte counts. ECDSA P-256 signs SHA-256 and is written DER-encoded
// (as DSSE and Sigstore expect); Ed25519 signs the PAE itself.
import { sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import type { SigningKey, VerifyingKey } from './keys.js';

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface Envelope {
  payload: string; // base64
  payloadType: string;
  signatures: { keyid: string; sig: string }[];
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: string;
  predicate: unknown;
}

export interface Bundle {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  verificationMaterial: {
    publicKey: { hint: string };
    tlogEntries: never[];
    timestampVerificationData: { rfc3161Timestamps: never[] };
  };
  dsseEnvelope: Envelope;
}

export function pae(payloadType: string, body: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

export function signEnvelope(payloadType: string, body: Uint8Array, key: SigningKey): Envelope {
  const message = pae(payloadType, body);
  const sig = key.type === 'ed25519' ? cryptoSign(null, message, key.privateKey) : cryptoSign('sha256', message, { key: key.privateKey, dsaEncoding: 'der' });
  return { payload: Buffer.from(body).toString('base64'), payloadType, signatures: [{ keyid: key.keyId, sig: sig.toString('base64') }] };
}

/** Strict base64: null unless `text` is exactly what encoding its bytes gives back. */
export function strictBase64(text: unknown): Buffer | null {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export type EnvelopeCheck = { ok: true; body: Buffer } | { ok: false; problem: string };

/**
 * Checks an envelope's one signature with `key`: well-formed, made by that key (its keyid), and
 * valid over the PAE of the payload. Names what is wrong otherwise.
 */
export function verifyEnvelope(env: unknown, key: VerifyingKey, expectedType: string): EnvelopeCheck {
  const e = env as Partial<Envelope> | null;
  if (!e || typeof e !== 'object') return { ok: false, problem: 'the signature envelope is missing' };
  if (e.payloadType !== expectedType) return { ok: false, problem: `the envelope's payloadType is ${JSON.stringify(e.payloadType)}, expected ${expectedType}` };
  const body = strictBase64(e.payload);
  if (!body) return { ok: false, problem: "the envelope's payload is not valid base64" };
  if (!Array.isArray(e.signatures) || e.signatures.length !== 1) return { ok: false, problem: `the envelope must hold exactly one signature (it holds ${Array.isArray(e.signatures) ? e.signatures.length : 'none'})` };
  const s = e.signatures[0];
  if (s?.keyid !== key.keyId) return { ok: false, problem: `it was signed by key ${String(s?.keyid)}, not by the key given (${key.keyId})` };
  const sig = strictBase64(s.sig);
  if (!sig) return { ok: false, problem: 'the signature is not valid base64' };
  const message = pae(expectedType, body);
  let valid = false;
  try {
    valid = key.type === 'ed25519' ? cryptoVerify(null, message, key.publicKey, sig) : cryptoVerify('sha256', message, { key: key.publicKey, dsaEncoding: 'der' }, sig);
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, problem: `the signature does not verify with key ${key.keyId}: the signed statement or the signature was changed` };
  return { ok: true, body };
}

export function toBundle(env: Envelope, keyId: string): Bundle {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyId }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    // Field by field, in one order: the same envelope always gives the same text.
    dsseEnvelope: { payload: env.payload, payloadType: env.payloadType, signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig })) },
  };
}

/** The bundle's file text exactly as shipgate writes it: the verifier compares byte for byte. */
export function bundleText(b: Bundle): string {
  return `${JSON.stringify(toBundle(b.dsseEnvelope, b.verificationMaterial.publicKey.hint), null, 2)}\n`;
}

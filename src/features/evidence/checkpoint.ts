// A signed checkpoint of the audit chain's head: the last event's number and hash, when, and by
// which key, in a DSSE envelope signed with the evidence key. Kept outside the database, it
// lets `audit verify --checkpoint` notice a rewrite of any event up to that number even when
// the rewriter recomputed every later hash and moved the head. Making one records
// `audit.checkpoint` (subject `audit`).
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../errors.js';
import type { Shipgate } from '../../main.js';
import type { Actor } from '../access/actor.js';
import { record } from '../audit/record.js';
import { signEnvelope, verifyEnvelope, type Envelope } from './dsse.js';
import type { SigningKey, VerifyingKey } from './keys.js';

export const CHECKPOINT_PAYLOAD_TYPE = 'application/vnd.shipgate.audit-checkpoint+json';
export const CHECKPOINT_TYPE = 'https://shipgate.dev/audit-checkpoint/v1';

export interface Checkpoint {
  _type: typeof CHECKPOINT_TYPE;
  /** The head: the last event's number and hash (seq 0 and 64 zeros for an empty log). */
  seq: number;
  hash: string;
  /** When the head was read, ISO-8601 UTC. */
  at: string;
  keyId: string;
}

/** Signs a checkpoint of `head`; pure but for the signature. */
export function signCheckpoint(head: { seq: number; hash: string }, at: Date, key: SigningKey): Envelope {
  const body: Checkpoint = { _type: CHECKPOINT_TYPE, seq: head.seq, hash: head.hash, at: at.toISOString(), keyId: key.keyId };
  return signEnvelope(CHECKPOINT_PAYLOAD_TYPE, Buffer.from(JSON.stringify(body), 'utf8'), key);
}

export function checkpointText(env: Envelope): string {
  return `${JSON.stringify(env, null, 2)}\n`;
}

export type CheckpointRead = { ok: true; checkpoint: Checkpoint } | { ok: false; problem: string };

/** Checks a checkpoint file's signature with `key` and reads what it says. */
export function openCheckpoint(text: string, key: VerifyingKey): CheckpointRead {
  let env: unknown;
  try {
    env = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'the checkpoint is not JSON: the file was damaged or is not a shipgate checkpoint' };
  }
  const checked = verifyEnvelope(env, key, CHECKPOINT_PAYLOAD_TYPE);
  if (!checked.ok) return { ok: false, problem: `the checkpoint's signature is not valid: ${checked.problem}` };
  let c: Checkpoint;
  try {
    c = JSON.parse(checked.body.toString('utf8')) as Checkpoint;
  } catch {
    return { ok: false, problem: 'the signed checkpoint is not JSON' };
  }
  if (c._type !== CHECKPOINT_TYPE || !Number.isInteger(c.seq) || c.seq < 0 || !/^[0-9a-f]{64}$/.test(c.hash) || c.keyId !== key.keyId) {
    return { ok: false, problem: 'the signed checkpoint is not a shipgate audit checkpoint (v1)' };
  }
  return { ok: true, checkpoint: c };
}

export type AnchorResult =
  | { ok: true; checkpoint: Checkpoint; message: string }
  | { ok: false; checkpoint: Checkpoint | null; message: string };

/**
 * Holds the store's chain to a checkpoint: the event at the checkpoint's number must still carry
 * the checkpointed hash. (That the chain up to it verifies is the ordinary `audit verify`.)
 */
export async function checkAnchor(c: Checkpoint, eventAt: (seq: number) => Promise<{ seq: number; hash: string } | null>, head: { seq: number; hash: string }): Promise<AnchorResult> {
  const signed = `checkpoint #${c.seq} (signed ${c.at} by key ${c.keyId.slice(0, 16)}…)`;
  if (c.seq === 0) return { ok: true, checkpoint: c, message: `${signed}: the log was empty then; nothing to compare` };
  if (head.seq < c.seq) {
    return { ok: false, checkpoint: c, message: `the log was cut back: the head is #${head.seq}, but ${signed} saw #${c.seq} with hash ${c.hash}` };
  }
  const e = await eventAt(c.seq);
  if (!e || e.seq !== c.seq) return { ok: false, checkpoint: c, message: `event #${c.seq} is missing from the log, but ${signed} recorded it with hash ${c.hash}` };
  if (e.hash !== c.hash) {
    return {
      ok: false,
      checkpoint: c,
      message: `history up to #${c.seq} was rewritten: event #${c.seq} now has hash ${e.hash}, but ${signed} recorded ${c.hash}`,
    };
  }
  return { ok: true, checkpoint: c, message: `${signed} holds: event #${c.seq} still has hash ${c.hash}` };
}

/**
 * Reads the head, signs a checkpoint of it, hands it to `keep` (which writes it somewhere) and
 * then records `audit.checkpoint`: no event for a checkpoint that could not be kept.
 */
export async function makeCheckpoint(sg: Shipgate, actor: Actor, key: SigningKey, keep: (envelope: Envelope, c: Checkpoint) => void = () => {}): Promise<{ envelope: Envelope; checkpoint: Checkpoint }> {
  const at = sg.now();
  const head = await sg.audit.head();
  const envelope = signCheckpoint(head, at, key);
  const checkpoint: Checkpoint = { _type: CHECKPOINT_TYPE, seq: head.seq, hash: head.hash, at: at.toISOString(), keyId: key.keyId };
  keep(envelope, checkpoint);
  await sg.store.transaction((tx) => record(tx, at, actor, 'audit.checkpoint', 'audit', { seq: head.seq, hash: head.hash, keyId: key.keyId }));
  return { envelope, checkpoint };
}

/** Writes a file whole or not at all. */
export function writeWhole(file: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${file}.partial`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, data, { mode });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new InputError(`cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

// Writing one audit event, typed by the catalogue, inside the transaction of the change it
// records (appended with the transaction's other events just before its commit). The actor's
// way in (`via`) and, on the local store, the OS user go with every event.
// Whoever watches what happens (the server's metrics, server/telemetry.ts) hears of each event
// once its transaction has committed, never of one that rolled back.
import { afterCommit, appendAtCommit } from '../../store/sql.js';
import type { Stores } from '../../store/store.js';
import { enqueueNotifications } from '../notifications/enqueue.js';
import type { Actor } from '../access/actor.js';
import type { AuditAction, AuditCatalogue } from './catalogue.js';

export type RecordedListener = (action: AuditAction, data: Record<string, unknown>) => void;

const listeners: RecordedListener[] = [];

/** Calls `listener` with every audit event this process records, after its commit. */
export function whenRecorded(listener: RecordedListener): void {
  if (!listeners.includes(listener)) listeners.push(listener);
}

export async function record<A extends AuditAction>(tx: Stores, at: Date, actor: Actor, action: A, subject: string, data: AuditCatalogue[A]): Promise<void> {
  const event = { actor: actor.user, action, subject, data: { ...data, via: actor.via, ...(actor.osUser ? { osUser: actor.osUser } : {}) }, at };
  await appendAtCommit(tx, event);
  // Notices of this event go into the outbox in the same transaction: none is lost if the
  // server dies before delivering them.
  await enqueueNotifications(tx, event);
  if (listeners.length > 0) afterCommit(tx, () => listeners.forEach((l) => l(action, event.data as Record<string, unknown>)));
}

export function releaseSubject(r: { service: string; version: string }): string {
  return `release:${r.service}@${r.version}`;
}

export function deploymentSubject(d: { id: number }): string {
  return `deployment:${d.id}`;
}

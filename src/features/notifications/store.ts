// The notifications outbox. An audited event that makes a notice writes one event row in its
// own transaction (it needs no config, so it stays cheap); the delivery loop later fans it out
// into one delivery per channel that wants it, then claims, sends and retries deliveries.
import type { Generated } from 'kysely';
import type { NoticeEvent } from './config.js';

/** A notice waiting to be fanned out to its channels. */
export interface OutboxEvent {
  id: number;
  event: NoticeEvent;
  at: string;
  actor: string;
  subject: string;
  /** The audit event's data. */
  data: Record<string, unknown>;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

/** One notice to one channel, with its retry state. */
export interface Delivery {
  id: number;
  eventId: number;
  channel: string;
  subject: string;
  state: DeliveryState;
  attempts: number;
  nextAt: string;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface OutboxStore {
  /** Writes one event row; called inside the audit event's transaction. */
  enqueue(e: Omit<OutboxEvent, 'id'>): Promise<void>;
  /** Events not fanned out yet, oldest first. */
  unexpanded(limit: number): Promise<OutboxEvent[]>;
  /** Marks the event fanned out and writes its deliveries (due at `at`); false (and writes
   * nothing) when another server did it first. Run in a transaction. */
  expand(eventId: number, channels: string[], at: string): Promise<boolean>;
  /** Takes up to `limit` due deliveries for `leaseMs`, each the oldest pending one of its
   * channel and subject (so a deployment's notices go out in order). Run in a transaction. */
  /** Whether claim would find something (a read, before taking the write lock to claim). */
  due(now: string): Promise<boolean>;
  claim(now: string, leaseUntil: string, limit: number): Promise<Delivery[]>;
  event(id: number): Promise<OutboxEvent | null>;
  delivered(id: number, at: string): Promise<void>;
  /** Another try at `nextAt`, or `failed` when `nextAt` is null (gave up). */
  attemptFailed(id: number, error: string, nextAt: string | null): Promise<void>;
  deliveries(filter?: { state?: DeliveryState }): Promise<Delivery[]>;
}

export interface NotificationOutboxTable {
  id: Generated<number>;
  event: string;
  at: string;
  actor: string;
  subject: string;
  data: string; // JSON
  /** When the delivery loop fanned it out to its channels; null until then. */
  expanded_at: string | null;
}

export interface NotificationDeliveriesTable {
  id: Generated<number>;
  event_id: number;
  channel: string;
  subject: string;
  state: string;
  attempts: number;
  next_at: string;
  /** A server is sending it until then; past it, the claim is free for another. */
  claimed_until: string | null;
  last_error: string | null;
  delivered_at: string | null;
}

/** The outbox's tables (merged into the store's DB type). */
export interface NotificationTables {
  notification_outbox: NotificationOutboxTable;
  notification_deliveries: NotificationDeliveriesTable;
}

// The notifications outbox in memory. Rows are reached through `table()` on every call, so a
// failed memory transaction, which puts every table back, takes its outbox rows with it.
import { type MemoryTables, nextId, table } from '../../store/memory.js';
import type { Delivery, DeliveryState, OutboxEvent, OutboxStore } from './store.js';

type EventRow = OutboxEvent & { expandedAt: string | null };
type DeliveryRow = Delivery & { claimedUntil: string | null };

export class MemoryOutboxStore implements OutboxStore {
  constructor(private readonly t: MemoryTables) {}

  private get events() {
    return table<EventRow>(this.t, 'notification_outbox');
  }
  private get rows() {
    return table<DeliveryRow>(this.t, 'notification_deliveries');
  }

  async enqueue(e: Omit<OutboxEvent, 'id'>) {
    this.events.push({ ...structuredClone(e), id: nextId(this.t, 'notification_outbox'), expandedAt: null });
  }

  async unexpanded(limit: number) {
    return this.events.filter((e) => e.expandedAt === null).slice(0, limit).map(outEvent);
  }

  async expand(eventId: number, channels: string[], at: string) {
    const e = this.events.find((r) => r.id === eventId);
    if (!e || e.expandedAt !== null) return false;
    e.expandedAt = at;
    for (const channel of channels) {
      this.rows.push({ id: nextId(this.t, 'notification_deliveries'), eventId, channel, subject: e.subject, state: 'pending', attempts: 0, nextAt: at, lastError: null, deliveredAt: null, claimedUntil: null });
    }
    return true;
  }

  /** Claimable: due, not held by a live claim, and first of its deployment and channel. */
  private heads(now: string): DeliveryRow[] {
    const free = (d: DeliveryRow) => d.state === 'pending' && d.nextAt <= now && (d.claimedUntil === null || d.claimedUntil < now);
    const first = (d: DeliveryRow) =>
      !this.rows.some((e) => e.channel === d.channel && e.subject === d.subject && e.state === 'pending' && e.eventId < d.eventId) &&
      !this.events.some((o) => o.subject === d.subject && o.expandedAt === null && o.id < d.eventId);
    return this.rows.filter((d) => free(d) && first(d));
  }

  async due(now: string) {
    return this.heads(now).length > 0;
  }

  async claim(now: string, leaseUntil: string, limit: number) {
    const taken = this.heads(now).slice(0, limit);
    for (const d of taken) d.claimedUntil = leaseUntil;
    return taken.map(outDelivery);
  }

  async event(id: number) {
    const e = this.events.find((r) => r.id === id);
    return e ? outEvent(e) : null;
  }

  async delivered(id: number, at: string) {
    const d = this.rows.find((r) => r.id === id);
    if (d) Object.assign(d, { state: 'delivered', deliveredAt: at, claimedUntil: null, attempts: d.attempts + 1 });
  }

  async attemptFailed(id: number, error: string, nextAt: string | null) {
    const d = this.rows.find((r) => r.id === id);
    if (d) Object.assign(d, { state: nextAt ? 'pending' : 'failed', lastError: error, claimedUntil: null, attempts: d.attempts + 1, nextAt: nextAt ?? d.nextAt });
  }

  async deliveries(filter: { state?: DeliveryState } = {}) {
    return this.rows.filter((d) => !filter.state || d.state === filter.state).map(outDelivery);
  }
}

function outEvent({ expandedAt: _x, ...e }: EventRow): OutboxEvent {
  return structuredClone(e);
}

function outDelivery({ claimedUntil: _c, ...d }: DeliveryRow): Delivery {
  return { ...d };
}

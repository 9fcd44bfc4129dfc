// The notifications outbox on SQLite and PostgreSQL, and its migration.
import type { Kysely, Migration, Selectable } from 'kysely';
import type { Dialect } from '../../store/migrations.js';
import { hot } from '../../store/hot.js';
import type { DB } from '../../store/schema.js';
import type { NoticeEvent } from './config.js';
import type { Delivery, DeliveryState, OutboxEvent, OutboxStore } from './store.js';

function toEvent(row: Selectable<DB['notification_outbox']>): OutboxEvent {
  return { id: Number(row.id), event: row.event as NoticeEvent, at: row.at, actor: row.actor, subject: row.subject, data: JSON.parse(row.data) };
}

function toDelivery(row: Selectable<DB['notification_deliveries']>): Delivery {
  return {
    id: Number(row.id),
    eventId: Number(row.event_id),
    channel: row.channel,
    subject: row.subject,
    state: row.state as DeliveryState,
    attempts: Number(row.attempts),
    nextAt: row.next_at,
    lastError: row.last_error,
    deliveredAt: row.delivered_at,
  };
}

// Written with most audit events (store/hot.ts).
const insertEvent = hot('insert an outbox event', (q, event: string, at: string, actor: string, subject: string, data: string, expandedAt: null) =>
  q.insertInto('notification_outbox').values({ event, at, actor, subject, data, expanded_at: expandedAt }),
);

export class SqlOutboxStore implements OutboxStore {
  constructor(private readonly q: Kysely<DB>) {}

  async enqueue(e: Omit<OutboxEvent, 'id'>) {
    await insertEvent(this.q, e.event, e.at, e.actor, e.subject, JSON.stringify(e.data), null);
  }

  async unexpanded(limit: number) {
    const rows = await this.q.selectFrom('notification_outbox').selectAll().where('expanded_at', 'is', null).orderBy('id').limit(limit).execute();
    return rows.map(toEvent);
  }

  async expand(eventId: number, channels: string[], at: string) {
    const r = await this.q.updateTable('notification_outbox').set({ expanded_at: at }).where('id', '=', eventId).where('expanded_at', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    const event = await this.q.selectFrom('notification_outbox').select('subject').where('id', '=', eventId).executeTakeFirstOrThrow();
    if (channels.length > 0) {
      await this.q
        .insertInto('notification_deliveries')
        .values(channels.map((channel) => ({ event_id: eventId, channel, subject: event.subject, state: 'pending', attempts: 0, next_at: at, claimed_until: null, last_error: null, delivered_at: null })))
        .execute();
    }
    return true;
  }

  /** Claimable deliveries: due, not held by a live claim, and first of their deployment and
   * channel (an earlier notice still pending, or an earlier event not fanned out, goes first). */
  private heads(now: string, limit: number) {
    return this.q
      .selectFrom('notification_deliveries as d')
      .select('d.id')
      .where('d.state', '=', 'pending')
      .where('d.next_at', '<=', now)
      .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<', now)]))
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('notification_deliveries as e')
              .select('e.id')
              .whereRef('e.channel', '=', 'd.channel')
              .whereRef('e.subject', '=', 'd.subject')
              .where('e.state', '=', 'pending')
              .whereRef('e.event_id', '<', 'd.event_id'),
          ),
        ),
      )
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('notification_outbox as o').select('o.id').whereRef('o.subject', '=', 'd.subject').where('o.expanded_at', 'is', null).whereRef('o.id', '<', 'd.event_id'))),
      )
      .orderBy('d.id')
      .limit(limit);
  }

  async due(now: string) {
    return (await this.heads(now, 1).executeTakeFirst()) !== undefined;
  }

  async claim(now: string, leaseUntil: string, limit: number) {
    // The claim conditions are checked again on the row itself, so two servers racing on
    // PostgreSQL cannot both take it.
    const rows = await this.q
      .updateTable('notification_deliveries')
      .set({ claimed_until: leaseUntil })
      .where('id', 'in', this.heads(now, limit))
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
      .returningAll()
      .execute();
    return rows.map(toDelivery).sort((a, b) => a.id - b.id);
  }

  async event(id: number) {
    const row = await this.q.selectFrom('notification_outbox').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toEvent(row) : null;
  }

  async delivered(id: number, at: string) {
    await this.q
      .updateTable('notification_deliveries')
      .set((eb) => ({ state: 'delivered', delivered_at: at, claimed_until: null, attempts: eb('attempts', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }

  async attemptFailed(id: number, error: string, nextAt: string | null) {
    await this.q
      .updateTable('notification_deliveries')
      .set((eb) => ({ state: nextAt ? 'pending' : 'failed', last_error: error, claimed_until: null, attempts: eb('attempts', '+', 1), ...(nextAt ? { next_at: nextAt } : {}) }))
      .where('id', '=', id)
      .execute();
  }

  async deliveries(filter: { state?: DeliveryState } = {}) {
    let q = this.q.selectFrom('notification_deliveries').selectAll().orderBy('id');
    if (filter.state) q = q.where('state', '=', filter.state);
    return (await q.execute()).map(toDelivery);
  }
}

export function notificationMigrations(dialect: Dialect): Record<string, Migration> {
  const id = dialect === 'postgres' ? ('serial' as const) : ('integer' as const);
  return {
    '0100_notification_outbox': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('notification_outbox')
          .addColumn('id', id, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('event', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('expanded_at', 'text')
          .execute();
        await db.schema.createIndex('notification_outbox_unexpanded').on('notification_outbox').columns(['expanded_at', 'id']).execute();
        await db.schema.createIndex('notification_outbox_subject').on('notification_outbox').columns(['subject', 'id']).execute();
        await db.schema
          .createTable('notification_deliveries')
          .addColumn('id', id, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('event_id', 'integer', (c) => c.notNull().references('notification_outbox.id'))
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_at', 'text', (c) => c.notNull())
          .addColumn('claimed_until', 'text')
          .addColumn('last_error', 'text')
          .addColumn('delivered_at', 'text')
          .addUniqueConstraint('notification_deliveries_event_channel', ['event_id', 'channel'])
          .execute();
        await db.schema.createIndex('notification_deliveries_due').on('notification_deliveries').columns(['state', 'next_at']).execute();
        await db.schema.createIndex('notification_deliveries_order').on('notification_deliveries').columns(['channel', 'subject', 'state', 'event_id']).execute();
      },
    },
  };
}

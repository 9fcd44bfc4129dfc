// PLACEHOLDER (being written): the outbox on SQLite / PostgreSQL.
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../../store/migrations.js';
import type { DB } from '../../store/schema.js';
import type { OutboxStore } from './store.js';

export class SqlOutboxStore implements OutboxStore {
  constructor(readonly q: Kysely<DB>) {}
}

export function notificationMigrations(_dialect: Dialect): Record<string, Migration> {
  return {};
}

// PLACEHOLDER (being written): the notifications outbox, written in the audit event's transaction.
export type OutboxStore = object;

/** The outbox's tables (merged into the store's DB type). */
export type NotificationTables = object;

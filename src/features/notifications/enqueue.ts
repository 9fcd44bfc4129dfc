// PLACEHOLDER (being written): turns an audit event into outbox rows, in its transaction.
import type { Stores } from '../../store/store.js';
import type { AuditAction } from '../audit/catalogue.js';

export async function enqueueNotifications(_tx: Stores, _event: { at: Date; actor: string; action: AuditAction; subject: string; data: object }): Promise<void> {}

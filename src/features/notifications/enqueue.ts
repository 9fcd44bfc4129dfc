// Which audit events make a notice, and writing that notice into the outbox in the audit
// event's own transaction: committed together or not at all. It needs no config (the delivery
// loop decides the channels), and most events make no notice, so it costs nothing for them.
import type { Stores } from '../../store/store.js';
import type { AuditAction } from '../audit/catalogue.js';
import type { NoticeEvent } from './config.js';

export interface AuditedEvent {
  at: Date;
  actor: string;
  action: AuditAction;
  subject: string;
  data: object;
}

/** The notice an audit event makes, or null. */
export function noticeOf(action: AuditAction, data: object): NoticeEvent | null {
  switch (action) {
    case 'deployment.state': {
      const { from, to } = data as { from: string; to: string };
      if (to === 'awaiting_approval' && from !== 'awaiting_approval') return 'approval_requested';
      if (to === 'approved') return 'approved';
      if (to === 'rolling_out' && from !== 'rolling_out' && from !== 'verifying') return 'rollout_started';
      if (to === 'succeeded') return 'succeeded';
      return null;
    }
    case 'approval.rejected':
      return 'rejected';
    case 'rollout.step_passed':
      return 'step_passed';
    case 'rollout.rolled_back':
      return 'rolled_back';
    case 'rollout.rollback_failed':
      return 'rollback_failed';
    default:
      return null;
  }
}

export async function enqueueNotifications(tx: Stores, event: AuditedEvent): Promise<void> {
  const notice = noticeOf(event.action, event.data);
  if (!notice) return;
  await tx.outbox.enqueue({ event: notice, at: event.at.toISOString(), actor: event.actor, subject: event.subject, data: { ...event.data } as Record<string, unknown> });
}

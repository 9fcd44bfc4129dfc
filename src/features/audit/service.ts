// Reading the audit log: pages of events, the chain verified against its head, and the
// JSON-lines export.
import type { Store } from '../../store/store.js';
import type { AuditEvent, VerifyResult } from './chain.js';
import { exportJsonl, type LineSink, verifyChain } from './log.js';
import type { AuditQuery } from './store.js';

export class AuditService {
  constructor(private readonly store: Store) {}

  events(q: AuditQuery): Promise<AuditEvent[]> {
    return this.store.audit.read(q);
  }

  /** The last event's number and hash: the anchor to keep outside the store (see docs/audit.md). */
  async head(): Promise<{ seq: number; hash: string }> {
    return (await this.store.audit.head()) ?? { seq: 0, hash: '0'.repeat(64) };
  }

  verify(): Promise<VerifyResult> {
    return verifyChain(this.store.audit);
  }

  export(out: LineSink) {
    return exportJsonl(this.store.audit, out);
  }
}

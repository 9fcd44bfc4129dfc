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

  verify(): Promise<VerifyResult> {
    return verifyChain(this.store.audit);
  }

  export(out: LineSink) {
    return exportJsonl(this.store.audit, out);
  }
}

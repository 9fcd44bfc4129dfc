// The audit log in memory, chained and verified exactly as the stored one.
import type { AuditEvent, ChainHead, StoredAuditRow } from './chain.js';
import { GENESIS_HASH } from './chain.js';
import { type AuditInput, chainAfter, toEvent } from './log.js';
import { type MemoryTables, table } from '../../store/memory.js';
import type { AuditQuery, AuditStore } from './store.js';

export class MemoryAuditStore implements AuditStore {
  constructor(private readonly t: MemoryTables) {}

  private get rows() {
    return table<StoredAuditRow>(this.t, 'audit_events');
  }

  async append(inputs: AuditInput[]): Promise<AuditEvent[]> {
    const chained = chainAfter((await this.head())!, inputs);
    this.rows.push(...chained.rows);
    this.t.audit_head = chained.head;
    return chained.events;
  }
  async read(q: AuditQuery): Promise<AuditEvent[]> {
    return this.rows
      .filter((r) => (q.afterSeq === undefined || r.seq > q.afterSeq) && (q.subject === undefined || r.subject === q.subject))
      .slice(0, q.limit ?? 100)
      .map(toEvent);
  }
  async *pages(batchSize: number, afterSeq?: number): AsyncGenerator<StoredAuditRow[]> {
    const rows = afterSeq === undefined ? this.rows : this.rows.filter((r) => r.seq > afterSeq);
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize).map((r) => ({ ...r }));
  }
  async head(): Promise<ChainHead | null> {
    return { ...((this.t.audit_head as ChainHead | undefined) ?? { seq: 0, hash: GENESIS_HASH }) };
  }
}

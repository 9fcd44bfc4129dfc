// What the audit feature keeps: the hash-chained events and the head (the last sequence
// number and hash), appended only inside the transaction of the change they record.
import type { AuditEvent, ChainHead, StoredAuditRow } from './chain.js';
import type { AuditInput } from './log.js';

export interface AuditQuery {
  /** Only events after this sequence number. */
  afterSeq?: number;
  /** At most this many (default 100). */
  limit?: number;
  /** Only events about this subject, e.g. `deployment:42`. */
  subject?: string;
}

export interface AuditStore {
  /** Appends in order, chained to the head; call it inside the change's transaction. */
  append(inputs: AuditInput[]): Promise<AuditEvent[]>;
  read(q: AuditQuery): Promise<AuditEvent[]>;
  /** Every stored row in sequence order (only those after `afterSeq` when given), a page at a time. */
  pages(batchSize: number, afterSeq?: number): AsyncIterable<StoredAuditRow[]>;
  /**
   * Where worker threads can read ranges of the log for themselves, to verify them in
   * parallel (see range-verify.ts); null when they cannot (an in-memory log, PostgreSQL).
   */
  rangeSource?(): Promise<AuditRangeSource | null>;
  /** Null when the head row is missing (deleted). */
  head(): Promise<ChainHead | null>;
}

/** A SQLite file a worker thread opens read-only. */
export interface AuditRangeSource {
  sqliteFile: string;
}

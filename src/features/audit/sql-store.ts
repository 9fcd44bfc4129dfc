// The audit log on SQLite or PostgreSQL: appending inside the caller's transaction, serialised
// on the head row, reading pages back by sequence number.
import { type Kysely, sql } from 'kysely';
import { InputError, StoreError } from '../../errors.js';
import type { Database, Dialect } from '../../store/db.js';
import { hot } from '../../store/hot.js';
import type { DB } from '../../store/schema.js';
import type { AuditEvent, ChainHead, StoredAuditRow, VerifyResult } from './chain.js';
import { type AuditInput, chainAfter, exportJsonl, type LineSink, toEvent, type VerifyChainOptions, verifyChain } from './log.js';
import type { AuditQuery, AuditRangeSource, AuditStore } from './store.js';

// Rows per insert statement: 8 values a row stays under SQLite's and PostgreSQL's limits.
const INSERT_CHUNK = 500;

// An append's statements, compiled once (store/hot.ts): the head, read under its lock on
// PostgreSQL; the insert of up to HOT_ROWS events (a transaction's usual few); the head's move.
const HOT_ROWS = 8;
const readHead = hot('audit head', (q, id: number) => q.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', id));
const lockHead = hot('audit head, locked', (q, id: number) => q.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', id).forUpdate());
const moveHead = hot('move the audit head', (q, seq: number, hash: string, id: number, oldSeq: number, oldHash: string) =>
  q.updateTable('audit_head').set({ seq, hash }).where('id', '=', id).where('seq', '=', oldSeq).where('hash', '=', oldHash),
);
const COLUMNS = ['seq', 'at', 'actor', 'action', 'subject', 'data', 'prev_hash', 'hash'] as const;
const inserts = Array.from({ length: HOT_ROWS + 1 }, (_, n) =>
  hot(`insert ${n} audit events`, (q, ...v: unknown[]) =>
    q.insertInto('audit_events').values(Array.from({ length: n }, (_r, i) => Object.fromEntries(COLUMNS.map((c, j) => [c, v[i * COLUMNS.length + j]])) as never)),
  ),
);

export class SqlAuditStore implements AuditStore {
  constructor(
    private readonly q: Kysely<DB>,
    private readonly dialect: Dialect,
  ) {}

  async append(inputs: AuditInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    // The head row is the lock appends queue on: on SQLite the caller's BEGIN IMMEDIATE already
    // holds the write lock; on PostgreSQL FOR UPDATE makes the next appender wait for our commit.
    const head = (await (this.dialect === 'postgres' ? lockHead : readHead)(this.q, 1)).rows[0];
    if (!head) throw new StoreError('the audit head row is missing: the store was not set up by shipgate, or it was tampered with');
    const chained = chainAfter({ seq: Number(head.seq), hash: head.hash }, inputs);
    if (chained.rows.length <= HOT_ROWS) {
      await inserts[chained.rows.length](this.q, ...chained.rows.flatMap((r) => COLUMNS.map((c) => r[c])));
    } else {
      for (let i = 0; i < chained.rows.length; i += INSERT_CHUNK) {
        await this.q.insertInto('audit_events').values(chained.rows.slice(i, i + INSERT_CHUNK)).execute();
      }
    }
    // Guarded by the old values: if anything else moved the head, fail rather than fork the chain.
    const updated = await moveHead(this.q, chained.head.seq, chained.head.hash, 1, head.seq, head.hash);
    if (Number(updated.numAffectedRows) !== 1) {
      throw new StoreError('the audit head moved during an append: audit events must be appended inside a transaction');
    }
    return chained.events;
  }

  async read(q: AuditQuery): Promise<AuditEvent[]> {
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) throw new InputError(`limit must be a positive whole number (got ${limit})`, { field: 'limit' });
    let query = this.q.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').limit(limit);
    if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
    if (q.subject !== undefined) query = query.where('subject', '=', q.subject);
    return (await query.execute()).map(toEvent);
  }

  /** Keyset pagination, so a long log is never held in memory whole. */
  async *pages(batchSize: number, afterSeq?: number): AsyncGenerator<StoredAuditRow[]> {
    let after: number | null = afterSeq ?? null;
    for (;;) {
      let query = this.q.selectFrom('audit_events').selectAll().orderBy('seq', 'asc').limit(batchSize);
      if (after !== null) query = query.where('seq', '>', after);
      const rows = await query.execute();
      if (rows.length) yield rows;
      if (rows.length < batchSize) return;
      after = rows[rows.length - 1].seq;
    }
  }

  /** The database file, when this is SQLite on a file: workers open it read-only beside us. */
  async rangeSource(): Promise<AuditRangeSource | null> {
    if (this.dialect !== 'sqlite') return null;
    const { rows } = await sql<{ file: string | null }>`select file from pragma_database_list where name = 'main'`.execute(this.q);
    const file = rows[0]?.file;
    return file ? { sqliteFile: file } : null;
  }

  async head(): Promise<ChainHead | null> {
    const head = await this.q.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
    return head ? { seq: Number(head.seq), hash: head.hash } : null;
  }
}

// The log of an open database, as functions: for tools and tests that work on the SQL log itself.

export function appendAuditEvents(trx: Kysely<DB>, dialect: Dialect, inputs: AuditInput[]): Promise<AuditEvent[]> {
  return new SqlAuditStore(trx, dialect).append(inputs);
}

export async function appendAuditEvent(trx: Kysely<DB>, dialect: Dialect, input: AuditInput): Promise<AuditEvent> {
  return (await appendAuditEvents(trx, dialect, [input]))[0];
}

export function readAuditEvents(db: Kysely<DB>, q: AuditQuery = {}): Promise<AuditEvent[]> {
  return new SqlAuditStore(db, 'sqlite').read(q);
}

export function readAuditHead(db: Kysely<DB>): Promise<ChainHead | null> {
  return new SqlAuditStore(db, 'sqlite').head();
}

export async function* streamAuditEvents(db: Kysely<DB>, batchSize = 5000): AsyncGenerator<AuditEvent> {
  for await (const page of new SqlAuditStore(db, 'sqlite').pages(batchSize)) yield* page.map(toEvent);
}

export function verifyStoredChain(database: Database, batchSize = 5000, opts: VerifyChainOptions = {}): Promise<VerifyResult> {
  return verifyChain(new SqlAuditStore(database.db, database.dialect), batchSize, opts);
}

export function exportAuditJsonl(database: Database, out: LineSink, batchSize = 5000) {
  return exportJsonl(new SqlAuditStore(database.db, database.dialect), out, batchSize);
}

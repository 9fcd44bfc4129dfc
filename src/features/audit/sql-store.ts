// The audit log on SQLite or PostgreSQL: appending inside the caller's transaction, serialised
// on the head row, reading pages back by sequence number.
import { type Kysely, type Migration, sql } from 'kysely';
import { InputError, StoreError } from '../../errors.js';
import type { Database, Dialect } from '../../store/db.js';
import { hot } from '../../store/hot.js';
import type { DB } from '../../store/schema.js';
import { type AuditEvent, type ChainHead, hashedAfterSeq, type StoredAuditRow, type VerifyResult } from './chain.js';
import { type AuditInput, chainAfter, chainPrepared, exportJsonl, type LineSink, prepareInputs, toEvent, type VerifyChainOptions, verifyChain } from './log.js';
import type { AuditQuery, AuditRangeSource, AuditStore } from './store.js';

// Rows per insert statement: 8 values a row stays under SQLite's and PostgreSQL's limits.
const INSERT_CHUNK = 500;

const NO_HEAD = 'the audit head row is missing: the store was not set up by shipgate, or it was tampered with';

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

// On PostgreSQL a transaction's few events are appended by one statement: the function below
// (migration 0320) locks the head, chains and inserts the events and moves the head inside the
// database. Every appender waits for the head's lock, and it is now held from that one round
// trip to the commit instead of across three more. It hashes the very text chain.ts's
// storedRowHash hashes, `["<prev_hash>",<seq>` followed by the rest, which it is given per
// event; the head it returns is checked against the chain computed here, so a difference
// fails the transaction instead of breaking the log.
const APPEND_FUNCTION = `
create or replace function shipgate_audit_append(p_at text[], p_actor text[], p_action text[], p_subject text[], p_data text[], p_rest text[])
returns table (from_seq integer, from_hash text, to_seq integer, to_hash text)
language plpgsql as $fn$
declare
  h_seq integer;
  h_hash text;
  next_hash text;
begin
  select a.seq, a.hash into h_seq, h_hash from audit_head a where a.id = 1 for update;
  if not found then
    raise exception 'the audit head row is missing' using errcode = 'P0002';
  end if;
  from_seq := h_seq;
  from_hash := h_hash;
  for i in 1 .. coalesce(array_length(p_rest, 1), 0) loop
    h_seq := h_seq + 1;
    next_hash := encode(sha256(convert_to('["' || h_hash || '",' || h_seq::text || p_rest[i], 'UTF8')), 'hex');
    insert into audit_events (seq, at, actor, action, subject, data, prev_hash, hash)
      values (h_seq, p_at[i], p_actor[i], p_action[i], p_subject[i], p_data[i], h_hash, next_hash);
    h_hash := next_hash;
  end loop;
  update audit_head set seq = h_seq, hash = h_hash where id = 1;
  to_seq := h_seq;
  to_hash := h_hash;
  return next;
end
$fn$`;

export function auditMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0320_audit_append_function': {
      async up(db: Kysely<any>) {
        if (dialect === 'postgres') await sql.raw(APPEND_FUNCTION).execute(db);
      },
    },
  };
}

export class SqlAuditStore implements AuditStore {
  constructor(
    private readonly q: Kysely<DB>,
    private readonly dialect: Dialect,
  ) {}

  async append(inputs: AuditInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    if (this.dialect === 'postgres' && inputs.length <= HOT_ROWS) return this.appendInDatabase(inputs);
    // The head row is the lock appends queue on: on SQLite the caller's BEGIN IMMEDIATE already
    // holds the write lock; on PostgreSQL FOR UPDATE makes the next appender wait for our commit.
    const head = (await (this.dialect === 'postgres' ? lockHead : readHead)(this.q, 1)).rows[0];
    if (!head) throw new StoreError(NO_HEAD);
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

  private async appendInDatabase(inputs: AuditInput[]): Promise<AuditEvent[]> {
    const prepared = prepareInputs(inputs);
    const rest = prepared.map(hashedAfterSeq);
    let moved: { from_seq: number; from_hash: string; to_seq: number; to_hash: string };
    try {
      const { rows } = await sql<typeof moved>`select * from shipgate_audit_append(${prepared.map((p) => p.at)}::text[], ${prepared.map((p) => p.actor)}::text[], ${prepared.map((p) => p.action)}::text[], ${prepared.map((p) => p.subject)}::text[], ${prepared.map((p) => p.data)}::text[], ${rest}::text[])`.execute(this.q);
      moved = rows[0];
    } catch (err) {
      if ((err as { code?: string }).code === 'P0002') throw new StoreError(NO_HEAD);
      throw err;
    }
    const chained = chainPrepared({ seq: Number(moved.from_seq), hash: moved.from_hash }, prepared);
    if (chained.head.seq !== Number(moved.to_seq) || chained.head.hash !== moved.to_hash) {
      throw new StoreError(`PostgreSQL chained audit event #${moved.to_seq} to ${moved.to_hash}, shipgate to #${chained.head.seq} ${chained.head.hash}: the events were not appended`);
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

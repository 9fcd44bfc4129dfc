// Schema migrations, in order, in code. Each runs once per database, for SQLite and PostgreSQL
// alike; the only difference between the two is how an auto-numbered id is declared.
import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';
import { auditMigrations } from '../features/audit/sql-store.js';
import { githubMigrations } from '../features/github/sql-store.js';
import { notificationMigrations } from '../features/notifications/sql-store.js';
import { leaseMigrations } from '../features/rollouts/lease-sql.js';

export type Dialect = 'sqlite' | 'postgres';

function idColumn(dialect: Dialect) {
  return dialect === 'postgres' ? ('serial' as const) : ('integer' as const);
}

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001_foundation': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('releases')
          .addColumn('id', idColumn(dialect), (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('commit_sha', 'text', (c) => c.notNull())
          .addColumn('built_at', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text', (c) => c.notNull())
          .addColumn('reports', 'text', (c) => c.notNull())
          .addUniqueConstraint('releases_service_version', ['service', 'version'])
          .execute();

        await db.schema
          .createTable('release_verifications')
          .addColumn('release_id', 'integer', (c) => c.notNull().references('releases.id'))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('verified_at', 'text', (c) => c.notNull())
          .addColumn('verified_by', 'text', (c) => c.notNull())
          .addColumn('note', 'text')
          .addPrimaryKeyConstraint('release_verifications_pk', ['release_id', 'environment'])
          .execute();

        await db.schema
          .createTable('deployments')
          .addColumn('id', idColumn(dialect), (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('release_id', 'integer', (c) => c.notNull().references('releases.id'))
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('incident', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('rev', 'integer', (c) => c.notNull())
          .addColumn('requested_by', 'text', (c) => c.notNull())
          .addColumn('requested_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('checks', 'text', (c) => c.notNull())
          .addColumn('previous_release_id', 'integer')
          .addColumn('active_key', 'text', (c) => c.unique())
          .addColumn('rollout', 'text')
          .execute();
        await db.schema
          .createIndex('deployments_service_env')
          .on('deployments')
          .columns(['service', 'environment', 'state'])
          .execute();

        await db.schema
          .createTable('approvals')
          .addColumn('id', idColumn(dialect), (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('deployment_id', 'integer', (c) => c.notNull().references('deployments.id'))
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('decision', 'text', (c) => c.notNull())
          .addColumn('comment', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('auth_method', 'text', (c) => c.notNull())
          .addColumn('lapsed_at', 'text')
          .execute();
        await db.schema
          .createIndex('approvals_deployment')
          .on('approvals')
          .column('deployment_id')
          .execute();

        await db.schema
          .createTable('checklist_ticks')
          .addColumn('deployment_id', 'integer', (c) => c.notNull().references('deployments.id'))
          .addColumn('item', 'text', (c) => c.notNull())
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('note', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('checklist_ticks_pk', ['deployment_id', 'item'])
          .execute();

        await db.schema
          .createTable('audit_events')
          .addColumn('seq', 'integer', (c) => c.primaryKey())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();

        await db.schema.createIndex('audit_events_subject').on('audit_events').columns(['subject', 'seq']).execute();

        await db.schema
          .createTable('audit_head')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('seq', 'integer', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await sql`insert into audit_head (id, seq, hash) values (1, 0, ${'0'.repeat(64)})`.execute(db);

        await db.schema
          .createTable('api_tokens')
          .addColumn('id', idColumn(dialect), (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('user_name', 'text', (c) => c.notNull())
          .addColumn('label', 'text', (c) => c.notNull())
          .addColumn('token_sha256', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .execute();
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  // Features with tables of their own add their migrations (named after these, so in order).
  return { getMigrations: async () => ({ ...migrations(dialect), ...notificationMigrations(dialect), ...githubMigrations(dialect), ...leaseMigrations(dialect), ...auditMigrations(dialect) }) };
}

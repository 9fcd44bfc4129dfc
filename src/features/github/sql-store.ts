// The GitHub protection rule runs on SQLite or PostgreSQL, and the migration that makes their table.
import type { Kysely, Migration, Selectable } from 'kysely';
import type { Dialect } from '../../store/migrations.js';
import type { DB } from '../../store/schema.js';
import { unique } from '../../store/sql.js';
import type { GithubAnswer, GithubProtectionRunsTable, GithubStore, NewProtectionRun, ProtectionRun } from './store.js';

function toRun(r: Selectable<GithubProtectionRunsTable>): ProtectionRun {
  return {
    id: Number(r.id),
    deliveryId: r.delivery_id,
    repository: r.repository,
    githubEnvironment: r.github_environment,
    installationId: r.installation_id === null ? null : Number(r.installation_id),
    callbackUrl: r.callback_url,
    deploymentId: r.deployment_id === null ? null : Number(r.deployment_id),
    receivedAt: r.received_at,
    answer: r.answer as GithubAnswer | null,
    comment: r.comment,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    answeredAt: r.answered_at,
    answerStatus: r.answer_status === null ? null : Number(r.answer_status),
  };
}

export class SqlGithubStore implements GithubStore {
  constructor(readonly q: Kysely<DB>) {}

  async insertRun(run: NewProtectionRun) {
    const row = await unique('a GitHub protection run with this delivery id', () =>
      this.q
        .insertInto('github_protection_runs')
        .values({
          delivery_id: run.deliveryId,
          repository: run.repository,
          github_environment: run.githubEnvironment,
          installation_id: run.installationId,
          callback_url: run.callbackUrl,
          deployment_id: run.deploymentId,
          received_at: run.receivedAt,
          answer: run.answer,
          comment: run.comment,
          attempts: 0,
          next_attempt_at: null,
          last_error: null,
          answered_at: null,
          answer_status: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toRun(row);
  }
  async runByDelivery(deliveryId: string) {
    const row = await this.q.selectFrom('github_protection_runs').selectAll().where('delivery_id', '=', deliveryId).executeTakeFirst();
    return row ? toRun(row) : null;
  }
  async unanswered(limit: number) {
    return (await this.q.selectFrom('github_protection_runs').selectAll().where('answered_at', 'is', null).orderBy('id').limit(limit).execute()).map(toRun);
  }
  async decide(id: number, answer: GithubAnswer, comment: string, _at: string) {
    await this.q.updateTable('github_protection_runs').set({ answer, comment }).where('id', '=', id).where('answer', 'is', null).execute();
  }
  async claim(id: number, attempts: number, leaseUntil: string) {
    const r = await this.q
      .updateTable('github_protection_runs')
      .set({ attempts: attempts + 1, next_attempt_at: leaseUntil })
      .where('id', '=', id)
      .where('attempts', '=', attempts)
      .where('answered_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
  async failed(id: number, error: string, nextAttemptAt: string) {
    await this.q.updateTable('github_protection_runs').set({ last_error: error, next_attempt_at: nextAttemptAt }).where('id', '=', id).execute();
  }
  async answered(id: number, at: string, status: number, error: string | null) {
    await this.q.updateTable('github_protection_runs').set({ answered_at: at, answer_status: status, last_error: error }).where('id', '=', id).execute();
  }
  async runsOf(deploymentId: number) {
    return (await this.q.selectFrom('github_protection_runs').selectAll().where('deployment_id', '=', deploymentId).orderBy('id').execute()).map(toRun);
  }
}

export function githubMigrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0200_github_protection_runs': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('github_protection_runs')
          .addColumn('id', dialect === 'postgres' ? 'serial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('delivery_id', 'text', (c) => c.notNull().unique())
          .addColumn('repository', 'text', (c) => c.notNull())
          .addColumn('github_environment', 'text', (c) => c.notNull())
          .addColumn('installation_id', 'bigint')
          .addColumn('callback_url', 'text', (c) => c.notNull())
          .addColumn('deployment_id', 'integer', (c) => c.references('deployments.id'))
          .addColumn('received_at', 'text', (c) => c.notNull())
          .addColumn('answer', 'text')
          .addColumn('comment', 'text')
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text')
          .addColumn('last_error', 'text')
          .addColumn('answered_at', 'text')
          .addColumn('answer_status', 'integer')
          .execute();
        await db.schema.createIndex('github_protection_runs_unanswered').on('github_protection_runs').columns(['answered_at', 'id']).execute();
        await db.schema.createIndex('github_protection_runs_deployment').on('github_protection_runs').column('deployment_id').execute();
      },
    },
  };
}

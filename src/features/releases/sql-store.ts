// The releases store on SQLite or PostgreSQL.
import type { Kysely, Selectable } from 'kysely';
import type { Release, ReportSummary, Verification } from '../../domain/types.js';
import { hot } from '../../store/hot.js';
import type { DB } from '../../store/schema.js';
import { unique } from '../../store/sql.js';
import type { ReleaseStore } from './store.js';

type Row = Selectable<DB['releases']>;

// Read by every approval (store/hot.ts).
const byId = hot('release by id', (q, id: number) => q.selectFrom('releases').selectAll().where('id', '=', id));
const verificationsOf = hot('verifications of a release', (q, id: number) => q.selectFrom('release_verifications').selectAll().where('release_id', '=', id));

function toRelease(r: Row): Release {
  return {
    id: Number(r.id),
    service: r.service,
    version: r.version,
    digest: r.digest,
    commit: r.commit_sha,
    builtAt: r.built_at,
    createdAt: r.created_at,
    createdBy: r.created_by,
    reports: JSON.parse(r.reports) as ReportSummary[],
  };
}

export class SqlReleaseStore implements ReleaseStore {
  constructor(private readonly q: Kysely<DB>) {}

  async find(service: string, version: string) {
    const row = await this.q.selectFrom('releases').selectAll().where('service', '=', service).where('version', '=', version).executeTakeFirst();
    return row ? toRelease(row) : null;
  }

  async findByDigest(service: string, digest: string) {
    const row = await this.q.selectFrom('releases').selectAll().where('service', '=', service).where('digest', '=', digest).orderBy('id').executeTakeFirst();
    return row ? toRelease(row) : null;
  }

  async byId(id: number) {
    const row = (await byId(this.q, id)).rows[0];
    return row ? toRelease(row) : null;
  }

  async list(service: string | undefined, limit: number) {
    let query = this.q.selectFrom('releases').selectAll().orderBy('id', 'desc').limit(limit);
    if (service) query = query.where('service', '=', service);
    return (await query.execute()).map(toRelease);
  }

  async insert(r: Omit<Release, 'id'>) {
    const row = await unique(`${r.service} ${r.version}`, () =>
      this.q
        .insertInto('releases')
        .values({
          service: r.service,
          version: r.version,
          digest: r.digest,
          commit_sha: r.commit,
          built_at: r.builtAt,
          created_at: r.createdAt,
          created_by: r.createdBy,
          reports: JSON.stringify(r.reports),
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toRelease(row);
  }

  async setReports(id: number, reports: ReportSummary[]) {
    await this.q.updateTable('releases').set({ reports: JSON.stringify(reports) }).where('id', '=', id).execute();
  }

  async verifications(releaseId: number) {
    const { rows } = await verificationsOf(this.q, releaseId);
    return rows.map((r) => ({ releaseId: Number(r.release_id), environment: r.environment, verifiedAt: r.verified_at, verifiedBy: r.verified_by, note: r.note }));
  }

  async insertVerification(v: Verification) {
    await unique(`the verification in ${v.environment}`, () =>
      this.q
        .insertInto('release_verifications')
        .values({ release_id: v.releaseId, environment: v.environment, verified_at: v.verifiedAt, verified_by: v.verifiedBy, note: v.note })
        .execute(),
    );
  }
}

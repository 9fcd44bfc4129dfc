// The access store on SQLite or PostgreSQL.
import type { Kysely, Selectable } from 'kysely';
import { hot } from '../../store/hot.js';
import type { DB } from '../../store/schema.js';
import { unique } from '../../store/sql.js';
import type { AccessStore, ApiToken } from './store.js';

// Read by every request that brings a token (store/hot.ts).
const byHash = hot('token by hash', (q, sha256: string) => q.selectFrom('api_tokens').selectAll().where('token_sha256', '=', sha256));

function toToken(row: Selectable<DB['api_tokens']>): ApiToken {
  return { id: Number(row.id), user: row.user_name, label: row.label, createdAt: row.created_at, revokedAt: row.revoked_at };
}

export class SqlAccessStore implements AccessStore {
  constructor(private readonly q: Kysely<DB>) {}

  async insertToken(user: string, label: string, sha256: string, at: string) {
    const row = await unique('a token', () =>
      this.q.insertInto('api_tokens').values({ user_name: user, label, token_sha256: sha256, created_at: at, revoked_at: null }).returningAll().executeTakeFirstOrThrow(),
    );
    return toToken(row);
  }
  async tokenByHash(sha256: string) {
    const row = (await byHash(this.q, sha256)).rows[0];
    return row ? toToken(row) : null;
  }
  async tokens() {
    return (await this.q.selectFrom('api_tokens').selectAll().orderBy('id').execute()).map(toToken);
  }
  async revokeToken(id: number, at: string) {
    const r = await this.q.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

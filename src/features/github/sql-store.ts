// PLACEHOLDER (being written).
import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../../store/migrations.js';
import type { DB } from '../../store/schema.js';
import type { GithubStore } from './store.js';

export class SqlGithubStore implements GithubStore {
  constructor(readonly q: Kysely<DB>) {}
}

export function githubMigrations(_dialect: Dialect): Record<string, Migration> {
  return {};
}

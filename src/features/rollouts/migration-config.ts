// A service's `migrate:` section: the database migration run before its canary, on any driver.
import { z } from 'zod';

export const migrationSection = z.strictObject({}).describe('a database migration run before the canary');

export interface MigrationConfig {}

export function resolveMigration(_raw: z.infer<typeof migrationSection>, _dir: string): MigrationConfig {
  return {};
}

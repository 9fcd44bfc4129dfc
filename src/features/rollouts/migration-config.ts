// A service's `migrate:` section: the database migration run before its canary, on any driver
// (see docs/rollout.md, "Migrations"). Commands are argv arrays, never a shell line; values a
// command needs per environment (the database URL) are named by environment variable, so they
// are never in the file, and their values are redacted from everything shipgate prints or keeps.
import path from 'node:path';
import { z } from 'zod';
import { duration, durationSeconds } from '../../config/duration.js';

const argv = (what: string) => z.array(z.string().min(1)).min(1).describe(`${what}: argv (no shell); {version}, {digest}, {environment}, {previous_version} are replaced`);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name such as DATABASE_URL');

export const migrationSection = z
  .strictObject({
    up: argv('applies the migration of the version being deployed; must be idempotent (it is run again after a crash)'),
    down: argv('undoes it; run when the rollout is blocked or rolled back, and in the rehearsal').optional(),
    count: argv('prints one integer on stdout: the records every version must keep, counted before and after each run').optional(),
    cwd: z.string().min(1).optional().describe('relative to this file; default: its directory'),
    timeout: duration.default('5m').describe('each command is killed past this, and the run fails'),
    env: z.record(envName, z.string()).default({}).describe('for every command, in every environment; not for secrets (use env_from)'),
    env_from: z
      .record(z.string().min(1), z.record(envName, envName))
      .default({})
      .describe("per environment name: the command's variable ← the variable of shipgate's own environment holding its value (e.g. DATABASE_URL: STAGING_DATABASE_URL); values are never logged"),
  })
  .describe('a database migration run before the canary, undone after a rollback');

export interface MigrationConfig {
  up: string[];
  down: string[] | null;
  count: string[] | null;
  /** Absolute. */
  cwd: string;
  timeoutMs: number;
  env: Record<string, string>;
  /** Per environment: the command's variable → the name of shipgate's variable holding it. */
  envFrom: Record<string, Record<string, string>>;
}

export function resolveMigration(raw: z.infer<typeof migrationSection>, dir: string): MigrationConfig {
  return {
    up: [...raw.up],
    down: raw.down ? [...raw.down] : null,
    count: raw.count ? [...raw.count] : null,
    cwd: path.resolve(dir, raw.cwd ?? '.'),
    timeoutMs: Math.max(1, durationSeconds(raw.timeout)) * 1000,
    env: { ...raw.env },
    envFrom: Object.fromEntries(Object.entries(raw.env_from).map(([env, vars]) => [env, { ...vars }])),
  };
}

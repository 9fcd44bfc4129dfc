// Real databases for tests: a fresh SQLite file in a temp dir, and a fresh database on the
// throwaway PostgreSQL that scripts/test.sh starts (SHIPGATE_TEST_DATABASE_URL).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/store/db.js';

export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['sqlite', 'postgres'];

export function tempDir(prefix = 'shipgate-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function adminUrl(): string {
  const url = process.env.SHIPGATE_TEST_DATABASE_URL;
  if (!url) throw new Error('SHIPGATE_TEST_DATABASE_URL is not set: run the tests with `npm test`');
  return url;
}

/** Creates an empty PostgreSQL database and returns its URL. */
export async function freshPostgresUrl(): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl() });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/** Where a fresh store of this kind lives: a SQLite file path or a PostgreSQL URL. */
export async function freshStoreLocation(kind: StoreKind): Promise<{ url?: string; sqlitePath?: string }> {
  if (kind === 'postgres') return { url: await freshPostgresUrl() };
  return { sqlitePath: path.join(tempDir(), 'shipgate.db') };
}

export async function freshDatabase(kind: StoreKind): Promise<Database> {
  return openDatabase(await freshStoreLocation(kind));
}

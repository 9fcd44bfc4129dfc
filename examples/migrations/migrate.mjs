// A small migration tool for a SQLite database, as shipgate's `migrate:` section runs one (see
// docs/rollout.md, "Migrations"): each release may ship sql/<version>.up.sql and
// sql/<version>.down.sql; the applied versions are kept in the table schema_migrations, so
// `up` and `down` are idempotent — run twice, the second run does nothing. Statements run one
// by one, not in one transaction, the way many schema changes must (and a failure can leave
// part of an up applied): write them so they can run again (IF NOT EXISTS / IF EXISTS), and
// let down undo a partial up.
//
//   node migrate.mjs up            applies sql/$VERSION.up.sql unless already applied
//   node migrate.mjs down          applies sql/$VERSION.down.sql if $VERSION was applied (or partly)
//   node migrate.mjs count TABLE   prints the number of rows in TABLE (the records to keep)
//   node migrate.mjs status        prints the applied versions and the tables
//
// Environment: DATABASE_URL (file:/path/to/app.db or a path; shipgate passes it from
// migrate.env_from), VERSION (set by shipgate), MIGRATIONS_DIR (default: sql/ beside this file).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

const [command, arg] = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set');
  process.exit(2);
}
const db = new Database(url.replace(/^file:/, ''));
db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
const version = process.env.VERSION;
const dir = path.resolve(process.env.MIGRATIONS_DIR ?? path.join(import.meta.dirname, 'sql'));
const sqlFile = (direction) => path.join(dir, `${version}.${direction}.sql`);
const applied = () => db.prepare('SELECT version FROM schema_migrations ORDER BY applied_at, version').all().map((r) => r.version);

/** Runs a file's statements one by one, saying which one failed. */
function run(file) {
  const sql = fs.readFileSync(file, 'utf8');
  for (const statement of sql.split(/;\s*(?:\n|$)/).map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean)) {
    try {
      db.exec(statement);
    } catch (err) {
      console.error(`${path.basename(file)}: ${err.message}`);
      console.error(`in: ${statement.split('\n')[0]}`);
      process.exit(1);
    }
  }
}

switch (command) {
  case 'up':
    if (applied().includes(version)) {
      console.log(`${version} is already applied`);
    } else if (!fs.existsSync(sqlFile('up'))) {
      console.log(`${version} has no migration`);
    } else {
      run(sqlFile('up'));
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, new Date().toISOString());
      console.log(`${version} applied`);
    }
    break;
  case 'down':
    // A failed up left no row but may have applied part of its statements: down runs whenever
    // the file exists, which is why its statements use IF EXISTS.
    if (!fs.existsSync(sqlFile('down'))) {
      console.log(`${version} has no down migration`);
    } else {
      run(sqlFile('down'));
      db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(version);
      console.log(`${version} undone`);
    }
    break;
  case 'count':
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(arg ?? '')) {
      console.error('usage: node migrate.mjs count TABLE');
      process.exit(2);
    }
    console.log(db.prepare(`SELECT count(*) AS n FROM "${arg}"`).get().n);
    break;
  case 'status': {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_migrations' ORDER BY name").all().map((r) => r.name);
    console.log(JSON.stringify({ applied: applied(), tables }));
    break;
  }
  default:
    console.error('usage: node migrate.mjs up|down|count TABLE|status');
    process.exit(2);
}

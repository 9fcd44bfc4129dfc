// Queries on the request path, compiled once and run many times. Kysely builds and compiles a
// query from scratch on each call: for an approval's dozen statements that was about a fifth of
// its time (bench/approve-latency.ts). A hot query is written with Kysely as usual, but its
// values are the arguments it is given, passed in untouched; the first call on each engine
// compiles it with markers in their place, and every later call only puts the values where the
// markers were. The SQL text is then the same string each time, which the SQLite statement
// cache (db.ts) finds at once.
import { type Compilable, CompiledQuery, type Kysely, type QueryResult } from 'kysely';
import type { DB } from './schema.js';

/** Where one compiled parameter comes from: an argument's position, or a value of the query's own. */
type Slot = { arg: number } | { value: unknown };

interface Template {
  sql: string;
  slots: Slot[];
}

class Marker {
  constructor(readonly arg: number) {}
}

/**
 * A query whose SQL depends only on which engine runs it; `build` must pass each argument
 * straight into the query as a value (never compute with it, never branch on it). Checked at
 * the first call on each engine: every argument must come out as exactly one parameter.
 */
export function hot<Args extends unknown[], Row>(
  name: string,
  build: (q: Kysely<DB>, ...args: Args) => Compilable<Row>,
): (q: Kysely<DB>, ...args: Args) => Promise<QueryResult<Row>> {
  const templates = new Map<unknown, Template>();
  return (q, ...args) => {
    const engine = q.getExecutor().adapter.constructor;
    let t = templates.get(engine);
    if (!t) {
      t = compileTemplate(name, build(q, ...(args.map((_a, i) => new Marker(i)) as Args)).compile(), args.length);
      templates.set(engine, t);
    }
    const parameters = t.slots.map((s) => ('arg' in s ? args[s.arg] : s.value));
    return q.executeQuery(CompiledQuery.raw(t.sql, parameters) as CompiledQuery<Row>);
  };
}

function compileTemplate(name: string, compiled: CompiledQuery, argCount: number): Template {
  const seen = new Array<number>(argCount).fill(0);
  const slots: Slot[] = compiled.parameters.map((p) => {
    if (p instanceof Marker) {
      seen[p.arg]++;
      return { arg: p.arg };
    }
    return { value: p };
  });
  const wrong = seen.findIndex((n) => n !== 1);
  if (wrong >= 0) throw new Error(`hot query ${name}: argument ${wrong} must be used as exactly one value (used ${seen[wrong]} times)`);
  return { sql: compiled.sql, slots };
}

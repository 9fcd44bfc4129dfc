// What every operation's input goes through, whatever its schemas: the parsers that turn a
// wrong field into a 400 naming it, each query parameter given once, and the NUL guard. Free
// of zod itself (it only calls the schemas it is given), so an operation without schemas costs
// a command nothing to load.
import type { z } from 'zod';
import { InputError } from '../errors.js';

/** Parses a body, or throws an InputError naming the first wrong field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.') || '(body)';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field(s): ${issue.keys.join(', ')}`;
  throw new InputError(`invalid request body: ${field}: ${message}`, { field });
}

/** Parses a query string (no schema: it must be empty), or throws an InputError naming the
 * parameter: each may be given once. */
export function parseQuery<T extends z.ZodType>(schema: T | undefined, query: unknown): z.infer<T> {
  const q = (query ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(q)) {
    if (Array.isArray(value)) throw new InputError(`query parameter '${key}' is given ${value.length} times; give it once`, { field: key });
  }
  if (!schema) {
    const keys = Object.keys(q);
    if (keys.length) throw new InputError(`invalid query: unknown query parameter(s): ${keys.join(', ')}`, { field: keys[0] });
    return {} as z.infer<T>;
  }
  const result = schema.safeParse(q);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.path.join('.') || '(query)';
  const message = issue.code === 'unrecognized_keys' ? `unknown query parameter(s): ${issue.keys.join(', ')}` : `${field}: ${issue.message}`;
  throw new InputError(`invalid query: ${message}`, { field });
}

/** The path of the first NUL character in a request's parameters, query or body, if any:
 * no text shipgate keeps may hold one (PostgreSQL cannot store it). Iterative, since a hostile
 * body may nest deeper than the stack. */
export function nulIn(value: unknown, at: string): string | null {
  const stack: [unknown, string][] = [[value, at]];
  while (stack.length) {
    const [v, where] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return where;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${where}[${i}]`]);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return `${where}.(key)`;
        stack.push([x, `${where}.${k}`]);
      }
    }
  }
  return null;
}

// What every operation's input goes through: shared field schemas, the parsers that turn a
// wrong field into a 400 naming it, and the NUL guard. Each operation's own schemas live with
// it in its feature (features/*/operations.ts).
import { z } from 'zod';
import { InputError } from '../errors.js';

/** A name: of a service, a version, an environment, a checklist item. */
export const name = z.string().min(1).max(200);

export { MAX_ID } from '../store/limits.js';

/** A whole number given as text (a query parameter), from min to max. */
export const count = (field: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, `${field} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${field} must be from ${min} to ${max}`);

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

/** Parses a query string, or throws an InputError naming the parameter: each may be given once. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const q = (query ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(q)) {
    if (Array.isArray(value)) throw new InputError(`query parameter '${key}' is given ${value.length} times; give it once`, { field: key });
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

// Request bodies of the HTTP API, as zod schemas: used to validate requests and to write the
// OpenAPI document, so the two cannot drift apart.
import { z } from 'zod';
import { DEPLOYMENT_STATES } from '../domain/deployment.js';
import { InputError } from '../errors.js';

const name = z.string().min(1).max(200);

export const reportBody = z
  .object({
    name: z.string().min(1).max(300).describe('file name of the report, as shown to users'),
    content: z.string().describe('the report text: SARIF, Trivy, Grype or npm-audit JSON, or JUnit XML'),
    kind: z.enum(['scan', 'tests']).optional(),
    format: z.string().optional(),
  })
  .strict();

export const registerBody = z
  .object({
    service: name,
    version: name,
    digest: z.string().describe('sha256:<64 hex> of the built artifact'),
    commit: z.string().describe('source commit hash'),
    builtAt: z.string().optional().describe('ISO-8601 build time; default: now'),
    reports: z.array(reportBody).max(50).optional(),
  })
  .strict();

export const attachBody = z.object({ reports: z.array(reportBody).min(1).max(50) }).strict();

export const verifyBody = z.object({ environment: name, note: z.string().max(2000).optional() }).strict();

export const deploymentBody = z
  .object({
    service: name,
    version: name,
    environment: name,
    type: z.enum(['standard', 'hotfix', 'rollback']).optional(),
    incident: z.string().max(200).optional(),
    digest: z.string().optional().describe('digest of the artifact about to be deployed; must match the recorded one'),
  })
  .strict();

export const decisionBody = z
  .object({
    decision: z.enum(['approve', 'reject']),
    comment: z.string().max(4000).optional(),
    role: z.string().optional().describe('the approver role to count for, when the user holds several'),
  })
  .strict();

export const tickBody = z.object({ note: z.string().max(2000).optional() }).strict();
export const cancelBody = z.object({ reason: z.string().min(1).max(2000) }).strict();
export const completeBody = z
  .object({ outcome: z.enum(['succeeded', 'failed']), reason: z.string().max(2000).optional() })
  .strict();

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

/** The largest id or sequence number the store holds (a 32-bit signed integer column). */
export const MAX_ID = 2_147_483_647;

const count = (field: string, max: number) =>
  z
    .string()
    .regex(/^\d{1,10}$/, `${field} must be a whole number`)
    .transform(Number)
    .refine((n) => n <= max, `${field} must be at most ${max}`);

const stateList = z
  .string()
  .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean))
  .refine((xs) => xs.every((x) => (DEPLOYMENT_STATES as string[]).includes(x)), `state must be a comma-separated list of: ${DEPLOYMENT_STATES.join(', ')}`);

export const releasesQuery = z.object({ service: name.optional() }).strict();
export const deploymentsQuery = z
  .object({ service: name.optional(), environment: name.optional(), state: stateList.optional(), limit: count('limit', 1000).optional() })
  .strict();
export const auditQuery = z
  .object({ after: count('after', MAX_ID).optional(), limit: count('limit', 1000).optional(), subject: z.string().max(300).optional() })
  .strict();

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

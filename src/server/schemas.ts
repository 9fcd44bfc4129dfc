// Request bodies of the HTTP API, as zod schemas: used to validate requests and to write the
// OpenAPI document, so the two cannot drift apart.
import { z } from 'zod';
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

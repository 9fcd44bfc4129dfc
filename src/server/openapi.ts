// The OpenAPI 3.1 document of the HTTP API, built from the same zod schemas that validate
// request bodies.
import { z } from 'zod';
import {
  attachBody,
  cancelBody,
  completeBody,
  decisionBody,
  deploymentBody,
  registerBody,
  tickBody,
  verifyBody,
} from './schemas.js';

type Op = {
  summary: string;
  body?: z.ZodType;
  params?: string[];
  query?: string[];
  ok?: number;
  public?: boolean;
};

const ROUTES: Record<string, Record<string, Op>> = {
  '/healthz': { get: { summary: 'Liveness of the server', public: true } },
  '/api/v1/openapi.json': { get: { summary: 'This document', public: true } },
  '/api/v1/whoami': { get: { summary: 'The user the token belongs to, and their roles' } },
  '/api/v1/releases': {
    post: { summary: 'Register a release (immutable: version, digest, commit, reports)', body: registerBody, ok: 201 },
    get: { summary: 'List releases, newest first', query: ['service'] },
  },
  '/api/v1/releases/{service}/{version}': {
    get: { summary: 'One release and where it is verified', params: ['service', 'version'] },
  },
  '/api/v1/releases/{service}/{version}/reports': {
    post: { summary: 'Attach test or scan reports to a release', body: attachBody, params: ['service', 'version'] },
  },
  '/api/v1/releases/{service}/{version}/verifications': {
    post: { summary: 'Mark a release verified in an environment', body: verifyBody, params: ['service', 'version'], ok: 201 },
  },
  '/api/v1/check': {
    post: { summary: 'Dry run of the gate: every check with its explanation; nothing is written', body: deploymentBody },
  },
  '/api/v1/deployments': {
    post: { summary: 'Request a deployment; the gate is evaluated at once', body: deploymentBody, ok: 201 },
    get: { summary: 'List deployments, newest first', query: ['service', 'environment', 'state', 'limit'] },
  },
  '/api/v1/deployments/{id}': { get: { summary: 'One deployment with its checks, approvals and checklist', params: ['id'] } },
  '/api/v1/deployments/{id}/refresh': { post: { summary: 'Re-evaluate the gate now', params: ['id'] } },
  '/api/v1/deployments/{id}/approvals': {
    post: { summary: 'Approve or reject (a rejection needs a comment)', body: decisionBody, params: ['id'], ok: 201 },
  },
  '/api/v1/deployments/{id}/checklist/{item}': {
    post: { summary: 'Tick a readiness checklist item', body: tickBody, params: ['id', 'item'], ok: 201 },
  },
  '/api/v1/deployments/{id}/cancel': { post: { summary: 'Cancel a deployment that has not started', body: cancelBody, params: ['id'] } },
  '/api/v1/deployments/{id}/rollback': {
    post: { summary: 'Roll back a rollout in progress (the controller acts at its next step)', body: cancelBody, params: ['id'] },
  },
  '/api/v1/deployments/{id}/resume': { post: { summary: 'Resume a rollout paused on an inconclusive analysis', params: ['id'] } },
  '/api/v1/deployments/{id}/start': { post: { summary: 'Start an approved deployment (rollout hook)', params: ['id'] } },
  '/api/v1/deployments/{id}/complete': {
    post: { summary: 'Record the end of a rollout run outside shipgate', body: completeBody, params: ['id'] },
  },
  '/api/v1/status': { get: { summary: 'Per service and environment: current release, open deployment, what it waits for, and a rollback that failed (rollbackFailed)' } },
  '/api/v1/audit': { get: { summary: 'Audit events in sequence order', query: ['after', 'limit', 'subject'] } },
  '/api/v1/audit/verify': { get: { summary: 'Verify the hash chain; names the first bad event' } },
  '/api/v1/audit/export': { get: { summary: 'All audit events as JSON lines' } },
};

const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
      required: ['code', 'message'],
    },
  },
};

export function openApiDocument(): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const [path, ops] of Object.entries(ROUTES)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(ops)) {
      const parameters = [
        ...(op.params ?? []).map((p) => ({ name: p, in: 'path', required: true, schema: { type: p === 'id' ? 'integer' : 'string' } })),
        ...(op.query ?? []).map((p) => ({ name: p, in: 'query', required: false, schema: { type: 'string' } })),
      ];
      paths[path][method] = {
        summary: op.summary,
        ...(op.public ? { security: [] } : {}),
        ...(parameters.length ? { parameters } : {}),
        ...(op.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(op.body, { target: 'openapi-3.0' }) } } } }
          : {}),
        responses: {
          [String(op.ok ?? 200)]: { description: 'success', content: { 'application/json': { schema: { type: 'object' } } } },
          '4XX': { description: 'bad input, unknown name, forbidden, conflict', content: { 'application/json': { schema: errorSchema } } },
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'shipgate',
      version: '1',
      description: 'Release gate and progressive-delivery controller. Authenticate with `Authorization: Bearer <token>`.',
    },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    security: [{ token: [] }],
    paths,
  };
}

// The OpenAPI 3.1 document of the HTTP API, written from the operations' own declarations
// (path, schemas, summary, permission), so the document and the routes cannot drift apart.
import { z } from 'zod';
import { type Operation, operation } from './operation.js';

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

function fields(schema: z.ZodType | undefined): [string, z.ZodType][] {
  if (!(schema instanceof z.ZodObject)) return [];
  return Object.entries(schema.shape as Record<string, z.ZodType>);
}

export function openApiDocument(operations: Operation[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const op of operations) {
    const p = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [
      ...fields(op.params).map(([n]) => ({ name: n, in: 'path', required: true, schema: { type: n === 'id' ? 'integer' : 'string' } })),
      ...fields(op.query).map(([n]) => ({ name: n, in: 'query', required: false, schema: { type: 'string' } })),
    ];
    (paths[p] ??= {})[op.method.toLowerCase()] = {
      summary: op.summary,
      'x-permission': op.permission,
      ...(op.permission === 'anyone' ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(op.body, { target: 'openapi-3.0', io: 'input' }) } } } } : {}),
      responses: {
        [String(op.status ?? 200)]: { description: 'success', content: { 'application/json': { schema: { type: 'object' } } } },
        '4XX': { description: 'bad input, unknown name, forbidden, conflict', content: { 'application/json': { schema: errorSchema } } },
        '503': { description: 'the store is unavailable', content: { 'application/json': { schema: errorSchema } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'shipgate', version: '1', description: 'Release gate and progressive-delivery controller. Authenticate with `Authorization: Bearer <token>`.' },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    security: [{ token: [] }],
    paths,
  };
}

/** The operation that serves the document of `operations` (itself included). */
export function openApiOperation(operations: () => Operation[]) {
  return operation({
    method: 'GET',
    path: '/api/v1/openapi.json',
    summary: 'This document',
    permission: 'anyone',
    handle: async () => openApiDocument(operations()),
  });
}

export const healthz = operation({
  method: 'GET',
  path: '/healthz',
  summary: 'Liveness of the server',
  permission: 'anyone',
  handle: async () => ({ status: 'ok' }),
});

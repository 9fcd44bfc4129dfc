// The audit log over HTTP (and the CLI's `audit` commands): pages of events, the chain
// verified, the whole log streamed as JSON lines, and a signed checkpoint of the head made on
// demand with the server's evidence key (features/evidence/checkpoint.ts).
import { z } from 'zod';
import { operation } from '../../server/operation.js';
import { count, MAX_ID } from '../../server/schemas.js';

export const auditEvents = operation({
  method: 'GET',
  path: '/api/v1/audit',
  summary: 'Audit events in sequence order',
  permission: 'user',
  query: z.object({ after: count('after', 0, MAX_ID).optional(), limit: count('limit', 1, 1000).optional(), subject: z.string().max(300).optional() }).strict(),
  async handle({ query }, sg) {
    return { events: await sg.audit.events({ afterSeq: query.after, limit: query.limit ?? 100, subject: query.subject }) };
  },
});

export const verifyAudit = operation({
  method: 'GET',
  path: '/api/v1/audit/verify',
  summary: 'Verify the hash chain; names the first bad event',
  permission: 'user',
  async handle(_input, sg) {
    return { result: await sg.audit.verify() };
  },
});

export const auditHead = operation({
  method: 'GET',
  path: '/api/v1/audit/head',
  summary: "The last event's number and hash: the anchor to keep where the store's writers cannot change it",
  permission: 'user',
  async handle(_input, sg) {
    return { head: await sg.audit.head() };
  },
});

export const exportAudit = operation({
  method: 'GET',
  path: '/api/v1/audit/export',
  summary: 'All audit events as JSON lines',
  permission: 'user',
  async handle(_input, sg) {
    return { contentType: 'application/x-ndjson', write: (out) => sg.audit.export(out) };
  },
});

export const auditCheckpoint = operation({
  method: 'POST',
  path: '/api/v1/audit/checkpoints',
  summary: "Sign a checkpoint of the chain's head with the server's evidence key; records audit.checkpoint",
  permission: 'user',
  status: 201,
  async handle({ actor }, sg) {
    sg.directory.assertUser(actor);
    const { requireSigningKey } = await import('../evidence/keys.js');
    const { makeCheckpoint } = await import('../evidence/checkpoint.js');
    const key = requireSigningKey(sg.config.evidence, process.env);
    return makeCheckpoint(sg, actor, key);
  },
});

export const auditOperations = [auditEvents, verifyAudit, auditHead, exportAudit, auditCheckpoint];

// The deployments' HTTP operations (and the CLI's calls): the gate as a dry run, requests,
// approvals and rejections, checklist ticks, cancel, and the hand-over to a rollout run
// elsewhere (start, complete).
import { z } from 'zod';
import { DEPLOYMENT_STATES } from '../../domain/deployment.js';
import type { DeploymentState } from '../../domain/types.js';
import { operation } from '../../server/operation.js';
import { count, id, name } from '../../server/schemas.js';

const request = z
  .object({
    service: name,
    version: name,
    environment: name,
    type: z.enum(['standard', 'hotfix', 'rollback']).optional(),
    incident: z.string().max(200).optional(),
    digest: z.string().optional().describe('digest of the artifact about to be deployed; must match the recorded one'),
  })
  .strict();

const byId = z.object({ id: id() }).strict();

const states = z
  .string()
  .transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean) as DeploymentState[])
  .refine((xs) => xs.every((x) => DEPLOYMENT_STATES.includes(x)), `state must be a comma-separated list of: ${DEPLOYMENT_STATES.join(', ')}`);

export const checkGate = operation({
  method: 'POST',
  path: '/api/v1/check',
  summary: 'Dry run of the gate: every check with its explanation; nothing is written',
  permission: 'user',
  body: request,
  async handle({ actor, body }, sg) {
    return { gate: await sg.deployments.check(actor, body) };
  },
});

export const requestDeployment = operation({
  method: 'POST',
  path: '/api/v1/deployments',
  summary: 'Request a deployment; the gate is evaluated at once',
  permission: 'user',
  status: 201,
  body: request,
  async handle({ actor, body }, sg) {
    const { view, gate } = await sg.deployments.request(actor, body);
    return { ...view, gate };
  },
});

export const listDeployments = operation({
  method: 'GET',
  path: '/api/v1/deployments',
  summary: 'List deployments, newest first',
  permission: 'user',
  query: z.object({ service: name.optional(), environment: name.optional(), state: states.optional(), limit: count('limit', 1, 1000).optional() }).strict(),
  async handle({ query }, sg) {
    return { deployments: await sg.deployments.list({ service: query.service, environment: query.environment, states: query.state, limit: query.limit }) };
  },
});

export const showDeployment = operation({
  method: 'GET',
  path: '/api/v1/deployments/:id',
  summary: 'One deployment with its checks, approvals and checklist',
  permission: 'user',
  params: byId,
  handle: ({ params }, sg) => sg.deployments.get(params.id),
});

export const refreshDeployment = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/refresh',
  summary: 'Re-evaluate the gate now',
  permission: 'user',
  params: byId,
  async handle({ actor, params }, sg) {
    // Asked for by a person (e.g. after adding a missing metric): the metrics source is asked again.
    const { view, gate } = await sg.deployments.refresh(actor, params.id, { freshCoverage: true });
    return { ...view, gate };
  },
});

export const decide = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/approvals',
  summary: 'Approve or reject (a rejection needs a comment)',
  permission: 'approver',
  status: 201,
  params: byId,
  body: z
    .object({
      decision: z.enum(['approve', 'reject']),
      comment: z.string().max(4000).optional(),
      role: z.string().optional().describe('the approver role to count for, when the user holds several'),
    })
    .strict(),
  async handle({ actor, params, body }, sg) {
    const { view, gate } = await sg.decisions.decide(actor, params.id, body);
    return { ...view, gate };
  },
});

export const tick = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/checklist/:item',
  summary: 'Tick a readiness checklist item',
  permission: 'user',
  status: 201,
  params: z.object({ id: id(), item: name }).strict(),
  body: z.object({ note: z.string().max(2000).optional() }).strict(),
  handle: ({ actor, params, body }, sg) => sg.decisions.tick(actor, params.id, params.item, body.note),
});

export const reason = z.object({ reason: z.string().min(1).max(2000) }).strict();

export const cancel = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/cancel',
  summary: 'Cancel a deployment that has not started',
  permission: 'requester or approver',
  params: byId,
  body: reason,
  handle: ({ actor, params, body }, sg) => sg.deployments.cancel(actor, params.id, body.reason),
});

export const start = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/start',
  summary: 'Start an approved deployment, for a rollout run elsewhere (409 where shipgate rolls out)',
  permission: 'requester or approver',
  params: byId,
  handle: ({ actor, params }, sg) => sg.deployments.start(actor, params.id),
});

export const complete = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/complete',
  summary: 'Record the end of a rollout run elsewhere (409 where shipgate rolls out)',
  permission: 'requester or approver',
  params: byId,
  body: z.object({ outcome: z.enum(['succeeded', 'failed']), reason: z.string().max(2000).optional() }).strict(),
  handle: ({ actor, params, body }, sg) => sg.deployments.complete(actor, params.id, body.outcome, body.reason),
});

export const deploymentOperations = [checkGate, requestDeployment, listDeployments, showDeployment, refreshDeployment, decide, tick, cancel, start, complete];

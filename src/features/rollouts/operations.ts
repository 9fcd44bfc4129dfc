// The rollouts' HTTP operations (and the CLI's calls): a person's word to a rollout in
// progress. The controller acts on it at its next step.
import { z } from 'zod';
import { operation } from '../../server/operation.js';
import { id } from '../../server/schemas.js';
import { reason } from '../deployments/operations.js';

const byId = z.object({ id: id() }).strict();

export const rollback = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/rollback',
  summary: 'Roll back a rollout in progress (the controller acts at its next step)',
  permission: 'requester or approver',
  params: byId,
  body: reason,
  handle: ({ actor, params, body }, sg) => sg.rollouts.request(actor, params.id, 'abort', body.reason),
});

export const resume = operation({
  method: 'POST',
  path: '/api/v1/deployments/:id/resume',
  summary: 'Resume a rollout paused on an inconclusive analysis',
  permission: 'requester or approver',
  params: byId,
  handle: ({ actor, params }, sg) => sg.rollouts.request(actor, params.id, 'resume'),
});

export const rolloutOperations = [rollback, resume];

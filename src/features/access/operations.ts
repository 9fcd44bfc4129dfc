// Access over HTTP: who the token belongs to. Tokens themselves are administered on the local
// store only (`shipgate token`), never over HTTP.
import { operation } from '../../server/operation.js';

export const whoami = operation({
  method: 'GET',
  path: '/api/v1/whoami',
  summary: 'The user the token belongs to, and their roles',
  permission: 'user',
  async handle({ actor }, sg) {
    return sg.access.whoami(actor);
  },
});

export const accessOperations = [whoami];

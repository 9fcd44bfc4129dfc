// The board over HTTP (and the CLI's `status`).
import { operation } from '../../server/operation.js';

export const status = operation({
  method: 'GET',
  path: '/api/v1/status',
  summary: 'Per service and environment: current release, open deployment, what it waits for, and a rollback that failed (rollbackFailed)',
  permission: 'user',
  async handle(_input, sg) {
    return { status: await sg.status.status() };
  },
});

export const statusOperations = [status];

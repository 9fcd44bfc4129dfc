// The HTTP operations of the parity feature: the drift between two environments' declared
// settings (secrets by hash, never their values) and the releases they run.
import { z } from 'zod';
import { operation } from '../../server/operation.js';
import { name } from '../../server/schemas.js';

export const parityReport = operation({
  method: 'GET',
  path: '/api/v1/parity',
  summary: "Settings drift and running versions between two environments, under the `to` environment's parity policy (allow, critical); secrets are compared by hash and only said to differ",
  permission: 'user',
  query: z.object({ from: name, to: name, service: name.optional() }).strict(),
  async handle({ actor, query }, sg) {
    sg.directory.assertUser(actor);
    return { parity: await sg.parity.report(query.from, query.to, query.service) };
  },
});

export const parityOperations = [parityReport];

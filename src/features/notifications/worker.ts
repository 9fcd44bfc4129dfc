// PLACEHOLDER (being written): delivers the outbox while `shipgate serve` runs.
import type { FastifyBaseLogger } from 'fastify';
import type { Shipgate } from '../../main.js';

export function startNotifications(_sg: Shipgate, _log: FastifyBaseLogger): { stop(): Promise<void> } {
  return { stop: async () => {} };
}

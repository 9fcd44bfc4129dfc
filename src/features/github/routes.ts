// PLACEHOLDER (being written): the endpoint GitHub's deployment_protection_rule webhook calls,
// and the loop that answers GitHub once shipgate decides.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Shipgate } from '../../main.js';

export function registerGithub(_server: FastifyInstance, _sg: Shipgate): void {}

export function startGithub(_sg: Shipgate, _log: FastifyBaseLogger): { stop(): Promise<void> } {
  return { stop: async () => {} };
}

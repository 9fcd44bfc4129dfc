// PLACEHOLDER (being written): the web UI's pages, served by `shipgate serve`.
import type { FastifyInstance } from 'fastify';
import type { Shipgate } from '../../main.js';

export function registerUi(_server: FastifyInstance, _sg: Shipgate): void {}

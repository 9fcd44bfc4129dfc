// PLACEHOLDER (being written): the outbox in memory.
import type { MemoryTables } from '../../store/memory.js';
import type { OutboxStore } from './store.js';

export class MemoryOutboxStore implements OutboxStore {
  constructor(readonly t: MemoryTables) {}
}

// PLACEHOLDER (being written).
import type { MemoryTables } from '../../store/memory.js';
import type { GithubStore } from './store.js';

export class MemoryGithubStore implements GithubStore {
  constructor(readonly t: MemoryTables) {}
}

// The access store in memory.
import { type MemoryTables, nextId, table } from '../../store/memory.js';
import { UniqueViolation } from '../../store/store.js';
import type { AccessStore, ApiToken } from './store.js';

type Row = ApiToken & { sha256: string };

export class MemoryAccessStore implements AccessStore {
  constructor(private readonly t: MemoryTables) {}

  private get rows() {
    return table<Row>(this.t, 'api_tokens');
  }

  async insertToken(user: string, label: string, sha256: string, at: string) {
    if (this.rows.some((r) => r.sha256 === sha256)) throw new UniqueViolation('a token');
    const row: Row = { id: nextId(this.t, 'api_tokens'), user, label, createdAt: at, revokedAt: null, sha256 };
    this.rows.push(row);
    return out(row);
  }
  async tokenByHash(sha256: string) {
    const row = this.rows.find((r) => r.sha256 === sha256);
    return row ? out(row) : null;
  }
  async tokens() {
    return this.rows.map(out);
  }
  async revokeToken(id: number, at: string) {
    const row = this.rows.find((r) => r.id === id && r.revokedAt === null);
    if (row) row.revokedAt = at;
    return Boolean(row);
  }
}

function out({ sha256: _hash, ...t }: Row): ApiToken {
  return { ...t };
}

// The GitHub protection rule runs in memory.
import { type MemoryTables, nextId, table } from '../../store/memory.js';
import { UniqueViolation } from '../../store/store.js';
import type { GithubAnswer, GithubStore, NewProtectionRun, ProtectionRun } from './store.js';

const TABLE = 'github_protection_runs';

export class MemoryGithubStore implements GithubStore {
  constructor(readonly t: MemoryTables) {}

  private get rows() {
    return table<ProtectionRun>(this.t, TABLE);
  }
  private row(id: number) {
    return this.rows.find((r) => r.id === id);
  }

  async insertRun(run: NewProtectionRun) {
    if (this.rows.some((r) => r.deliveryId === run.deliveryId)) throw new UniqueViolation('a GitHub protection run with this delivery id');
    const row: ProtectionRun = { ...run, id: nextId(this.t, TABLE), attempts: 0, nextAttemptAt: null, lastError: null, answeredAt: null, answerStatus: null };
    this.rows.push(row);
    return { ...row };
  }
  async runByDelivery(deliveryId: string) {
    const r = this.rows.find((x) => x.deliveryId === deliveryId);
    return r ? { ...r } : null;
  }
  async unanswered(limit: number) {
    return this.rows.filter((r) => r.answeredAt === null).slice(0, limit).map((r) => ({ ...r }));
  }
  async decide(id: number, answer: GithubAnswer, comment: string, _at: string) {
    const r = this.row(id);
    if (r && r.answer === null) Object.assign(r, { answer, comment });
  }
  async claim(id: number, attempts: number, leaseUntil: string) {
    const r = this.row(id);
    if (!r || r.attempts !== attempts || r.answeredAt !== null) return false;
    Object.assign(r, { attempts: attempts + 1, nextAttemptAt: leaseUntil });
    return true;
  }
  async failed(id: number, error: string, nextAttemptAt: string) {
    const r = this.row(id);
    if (r) Object.assign(r, { lastError: error, nextAttemptAt });
  }
  async answered(id: number, at: string, status: number, error: string | null) {
    const r = this.row(id);
    if (r) Object.assign(r, { answeredAt: at, answerStatus: status, lastError: error });
  }
  async runsOf(deploymentId: number) {
    return this.rows.filter((r) => r.deploymentId === deploymentId).map((r) => ({ ...r }));
  }
}

// The releases store in memory: for fast tests and dry runs.
import type { Release, ReportSummary, Verification } from '../../domain/types.js';
import { type MemoryTables, nextId, table } from '../../store/memory.js';
import { UniqueViolation } from '../../store/store.js';
import type { ReleaseStore } from './store.js';

export class MemoryReleaseStore implements ReleaseStore {
  constructor(private readonly t: MemoryTables) {}

  private get releases() {
    return table<Release>(this.t, 'releases');
  }
  private get verified() {
    return table<Verification>(this.t, 'release_verifications');
  }

  async find(service: string, version: string) {
    return copy(this.releases.find((r) => r.service === service && r.version === version));
  }
  async findByDigest(service: string, digest: string) {
    return copy(this.releases.find((r) => r.service === service && r.digest === digest));
  }
  async byId(id: number) {
    return copy(this.releases.find((r) => r.id === id));
  }
  async list(service: string | undefined, limit: number) {
    return this.releases
      .filter((r) => !service || r.service === service)
      .sort((a, b) => b.id - a.id)
      .slice(0, limit)
      .map((r) => structuredClone(r));
  }
  async insert(r: Omit<Release, 'id'>) {
    if (this.releases.some((x) => x.service === r.service && x.version === r.version)) throw new UniqueViolation(`${r.service} ${r.version}`);
    const release = { ...structuredClone(r), id: nextId(this.t, 'releases') };
    this.releases.push(release);
    return structuredClone(release);
  }
  async setReports(id: number, reports: ReportSummary[]) {
    const r = this.releases.find((x) => x.id === id);
    if (r) r.reports = structuredClone(reports);
  }
  async verifications(releaseId: number) {
    return this.verified.filter((v) => v.releaseId === releaseId).map((v) => ({ ...v }));
  }
  async insertVerification(v: Verification) {
    if (this.verified.some((x) => x.releaseId === v.releaseId && x.environment === v.environment)) throw new UniqueViolation(`the verification in ${v.environment}`);
    this.verified.push({ ...v });
  }
}

function copy<T>(x: T | undefined): T | null {
  return x === undefined ? null : structuredClone(x);
}

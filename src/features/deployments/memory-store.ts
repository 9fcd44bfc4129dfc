// The deployments store in memory: for fast tests of the gate and the controller.
import type { Approval, ChecklistTick, Deployment } from '../../domain/types.js';
import { type MemoryTables, nextId, table } from '../../store/memory.js';
import { StaleRevisionError, UniqueViolation } from '../../store/store.js';
import { activeKey, applyPatch, type DeploymentFilter, type DeploymentPatch, type DeploymentStore, type StoredApproval } from './store.js';

type Row = Deployment & { activeKey: string | null };

export class MemoryDeploymentStore implements DeploymentStore {
  constructor(private readonly t: MemoryTables) {}

  private get rows() {
    return table<Row>(this.t, 'deployments');
  }
  private get approvalRows() {
    return table<StoredApproval>(this.t, 'approvals');
  }
  private get tickRows() {
    return table<ChecklistTick>(this.t, 'checklist_ticks');
  }

  async find(id: number) {
    return out(this.rows.find((d) => d.id === id));
  }
  async findOpen(service: string, environment: string) {
    return out(this.rows.find((d) => d.activeKey === activeKey(service, environment)));
  }
  async list(f: DeploymentFilter) {
    return this.rows
      .filter((d) => (!f.service || d.service === f.service) && (!f.environment || d.environment === f.environment) && (!f.states?.length || f.states.includes(d.state)))
      .sort((a, b) => b.id - a.id)
      .slice(0, f.limit ?? 100)
      .map((d) => out(d)!);
  }
  async insert(d: Omit<Deployment, 'id' | 'rev' | 'rollout'>, open: boolean) {
    const key = open ? activeKey(d.service, d.environment) : null;
    if (key && this.rows.some((x) => x.activeKey === key)) throw new UniqueViolation(`a deployment of ${d.service} in ${d.environment}`);
    const row: Row = { ...structuredClone(d), id: nextId(this.t, 'deployments'), rev: 1, rollout: null, activeKey: key };
    this.rows.push(row);
    return out(row)!;
  }
  async update(d: Deployment, patch: DeploymentPatch) {
    const i = this.rows.findIndex((x) => x.id === d.id && x.rev === d.rev);
    if (i < 0) throw new StaleRevisionError(d.id);
    const key = patch.open === undefined ? this.rows[i].activeKey : patch.open ? activeKey(d.service, d.environment) : null;
    const next = applyPatch(out(this.rows[i])!, structuredClone(patch));
    this.rows[i] = { ...next, activeKey: key };
    return out(this.rows[i])!;
  }
  async lastSucceeded(service: string, environment: string) {
    const done = this.rows.filter((d) => d.service === service && d.environment === environment && d.state === 'succeeded');
    return out(done.sort((a, b) => b.id - a.id)[0]);
  }
  async succeededWith(releaseId: number, environment: string) {
    return this.rows.some((d) => d.releaseId === releaseId && d.environment === environment && d.state === 'succeeded');
  }
  async approvals(deploymentId: number) {
    return this.approvalRows.filter((a) => a.deploymentId === deploymentId).map((a) => ({ ...a }));
  }
  async insertApproval(a: Omit<Approval, 'id'>) {
    const row: StoredApproval = { ...a, id: nextId(this.t, 'approvals'), lapsedAt: null };
    this.approvalRows.push(row);
    return { ...row };
  }
  async markApprovalLapsed(id: number, at: string) {
    const a = this.approvalRows.find((x) => x.id === id);
    if (a) a.lapsedAt = at;
  }
  async ticks(deploymentId: number) {
    return this.tickRows.filter((t) => t.deploymentId === deploymentId).map((t) => ({ ...t }));
  }
  async insertTick(t: ChecklistTick) {
    if (this.tickRows.some((x) => x.deploymentId === t.deploymentId && x.item === t.item)) throw new UniqueViolation(`checklist item '${t.item}'`);
    this.tickRows.push({ ...t });
  }
}

function out(row: Row | undefined): Deployment | null {
  if (!row) return null;
  const { activeKey: _key, ...d } = structuredClone(row);
  return d;
}

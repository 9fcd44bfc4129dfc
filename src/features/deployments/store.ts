// What the deployments feature keeps: deployments (with the rollout record the controller
// writes), the approvals given on them, and their ticked checklist items.
import type { RolloutRecord } from '../../domain/rollout.js';
import type { Approval, ChecklistTick, CheckResult, Deployment, DeploymentState } from '../../domain/types.js';

export interface StoredApproval extends Approval {
  /** Set when shipgate noticed the approval outlived the policy's TTL (and audited it). */
  lapsedAt: string | null;
}

// The JSON text of each list of check results, made once: an approval compares the gate's new
// checks with the stored ones and writes them, which stringified the same lists three times.
const checksText = new WeakMap<CheckResult[], string>();

/** JSON.stringify(checks), kept for this list (never changed in place once evaluated). */
export function checksJson(checks: CheckResult[]): string {
  let text = checksText.get(checks);
  if (text === undefined) {
    text = JSON.stringify(checks);
    checksText.set(checks, text);
  }
  return text;
}

/** The checks read back from the text a store kept. */
export function checksFromJson(text: string): CheckResult[] {
  const checks = JSON.parse(text) as CheckResult[];
  checksText.set(checks, text);
  return checks;
}

export interface DeploymentFilter {
  service?: string;
  environment?: string;
  states?: DeploymentState[];
  limit?: number;
}

export interface DeploymentPatch {
  state?: DeploymentState;
  reason?: string | null;
  checks?: CheckResult[];
  /** false once the deployment ended: the service and environment are free again. */
  open?: boolean;
  rollout?: RolloutRecord | null;
  updatedAt: string;
}

export interface DeploymentStore {
  find(id: number): Promise<Deployment | null>;
  /** The one open deployment of a service in an environment. */
  findOpen(service: string, environment: string): Promise<Deployment | null>;
  /** Newest first. */
  list(filter: DeploymentFilter): Promise<Deployment[]>;
  /** UniqueViolation when `open` and the service already has one open there. */
  insert(d: Omit<Deployment, 'id' | 'rev' | 'rollout'>, open: boolean): Promise<Deployment>;
  /** Writes only if nobody changed `d` since it was read (else StaleRevisionError); bumps rev. */
  update(d: Deployment, patch: DeploymentPatch): Promise<Deployment>;
  /** The newest deployment that succeeded there: what is running. */
  lastSucceeded(service: string, environment: string): Promise<Deployment | null>;
  succeededWith(releaseId: number, environment: string): Promise<boolean>;
  approvals(deploymentId: number): Promise<StoredApproval[]>;
  insertApproval(a: Omit<Approval, 'id'>): Promise<StoredApproval>;
  markApprovalLapsed(id: number, at: string): Promise<void>;
  ticks(deploymentId: number): Promise<ChecklistTick[]>;
  /** UniqueViolation when the item is ticked already. */
  insertTick(t: ChecklistTick): Promise<void>;
}

/** "service/environment": the key that allows one open deployment per pair. */
export function activeKey(service: string, environment: string): string {
  return `${service}/${environment}`;
}

/** The deployment as it is after `patch`, with its revision bumped. */
export function applyPatch(d: Deployment, patch: DeploymentPatch): Deployment {
  return {
    ...d,
    state: patch.state ?? d.state,
    reason: patch.reason !== undefined ? patch.reason : d.reason,
    checks: patch.checks ?? d.checks,
    rollout: patch.rollout !== undefined ? patch.rollout : d.rollout,
    updatedAt: patch.updatedAt,
    rev: d.rev + 1,
  };
}

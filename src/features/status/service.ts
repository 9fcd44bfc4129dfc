// The board: per service and environment, the release running, the open deployment and what
// it waits for, and a rollback that failed (shown until a later deployment there ends).
import type { DeploymentState, DeploymentType } from '../../domain/types.js';
import type { Store } from '../../store/store.js';
import type { DeploymentService } from '../deployments/service.js';
import type { Lifecycle } from '../deployments/lifecycle.js';
import type { Directory } from '../directory.js';

export interface StatusCell {
  service: string;
  environment: string;
  current: { version: string; digest: string; releaseId: number } | null;
  open: { id: number; version: string; state: DeploymentState; type: DeploymentType; waitingFor: string | null } | null;
  /** The last rollout here ended with a failed rollback and nothing has ended since: where
   * traffic goes is not known, and a person has to look. */
  rollbackFailed: { id: number; version: string; reason: string | null; at: string } | null;
}

export class StatusService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly deployments: DeploymentService,
    private readonly lifecycle: Lifecycle,
  ) {}

  async status(): Promise<StatusCell[]> {
    const cells: StatusCell[] = [];
    for (const s of this.directory.config.services) {
      for (const e of this.directory.config.environments) {
        const [current, open, [ended]] = await Promise.all([
          this.deployments.currentRelease(s.name, e.name),
          this.store.deployments.findOpen(s.name, e.name),
          this.store.deployments.list({ service: s.name, environment: e.name, states: ['succeeded', 'rolled_back', 'rollback_failed'], limit: 1 }),
        ]);
        cells.push({
          service: s.name,
          environment: e.name,
          current: current ? { version: current.version, digest: current.digest, releaseId: current.id } : null,
          open: open ? { id: open.id, version: open.version, state: open.state, type: open.type, waitingFor: this.lifecycle.waitingFor(open) } : null,
          rollbackFailed: ended?.state === 'rollback_failed' ? { id: ended.id, version: ended.version, reason: ended.reason, at: ended.updatedAt } : null,
        });
      }
    }
    return cells;
  }
}

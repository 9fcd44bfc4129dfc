// A scripted deployment history for the figures' tests, with a fixed clock: ten production
// deployments in November 2026 (2 rolled back at 10%, 1 at post-deploy, 1 hotfix) and three
// that must not count. The numbers it must give are worked out by hand in the tests.
import { DEFAULT_PLAN, type RolloutRecord } from '../../../src/domain/rollout.js';
import type { DeploymentFacts } from '../../../src/domain/figures.js';
import type { DeploymentState } from '../../../src/domain/types.js';
import type { Actor } from '../../../src/features/access/actor.js';
import { record } from '../../../src/features/audit/record.js';
import type { Store } from '../../../src/store/store.js';

export const NOW = new Date('2026-11-24T12:00:00Z');
export const MIN = 60_000;
const iso = (t: number) => new Date(t).toISOString();

/** A rollout record that rolled back: at `weights`' last step, or after promotion. */
function rolledBackRecord(start: number, weights: number[], promoted: boolean, decidedAt: number, msToTraffic: number, msToVerified: number): RolloutRecord {
  return {
    plan: DEFAULT_PLAN,
    phase: 'done',
    step: weights.length - 1,
    weight: 0,
    startedAt: iso(start),
    steps: weights.map((w) => ({ weight: w, startedAt: iso(start), smoke: null, verdict: promoted || w < weights[weights.length - 1]! ? 'pass' : 'fail', reasons: [], canaryRequests: 0, stableRequests: 0, endedAt: null })),
    analysis: null,
    cursor: null,
    postDeploy: promoted ? [{ dueAt: iso(decidedAt), ranAt: iso(decidedAt), ok: false, reasons: ['errors'] }] : [],
    rollback: {
      reason: 'bad',
      trigger: promoted ? 'post_deploy' : 'analysis',
      decidedAt: iso(decidedAt),
      trafficRestoredAt: iso(decidedAt + msToTraffic),
      verifiedAt: iso(decidedAt + msToVerified),
      msToTraffic,
      msToVerified,
      ok: true,
      detail: 'stable serves',
    },
    fence: null,
    request: null,
  };
}

/** Deployment `id`, requested on November `day` at 10:00, its release registered `leadHours` before. */
export function deployment(id: number, day: number, opts: { leadHours?: number; type?: DeploymentFacts['type']; env?: string; outcome: 'succeeded' | 'canary' | 'post_deploy' | 'cancelled' | 'failed'; approveMin?: number; doneMin?: number; rb?: [number, number] }): DeploymentFacts {
  const t = Date.parse(`2026-11-${String(day).padStart(2, '0')}T10:00:00Z`);
  const approved = t + (opts.approveMin ?? 10) * MIN;
  const transitions: { to: DeploymentState; at: string }[] = [
    { to: 'checking', at: iso(t) },
    { to: 'approved', at: iso(approved) },
  ];
  let state: DeploymentState;
  let rollout: RolloutRecord | null = null;
  if (opts.outcome === 'cancelled') {
    transitions.push({ to: 'cancelled', at: iso(approved + MIN) });
    state = 'cancelled';
  } else if (opts.outcome === 'failed') {
    transitions.push({ to: 'rolling_out', at: iso(approved) }, { to: 'failed', at: iso(t + 30 * MIN) });
    state = 'failed';
  } else if (opts.outcome === 'succeeded') {
    transitions.push({ to: 'rolling_out', at: iso(approved) }, { to: 'verifying', at: iso(approved + 5 * MIN) }, { to: 'succeeded', at: iso(t + (opts.doneMin ?? 40) * MIN) });
    state = 'succeeded';
  } else {
    const decided = t + 20 * MIN;
    const [toTraffic, toVerified] = opts.rb!;
    rollout = rolledBackRecord(approved, opts.outcome === 'canary' ? [10] : [10, 50, 100], opts.outcome === 'post_deploy', decided, toTraffic, toVerified);
    transitions.push({ to: 'rolling_out', at: iso(approved) }, { to: 'rolling_back', at: iso(decided) }, { to: 'rolled_back', at: iso(decided + toVerified) });
    state = 'rolled_back';
  }
  return {
    id,
    service: 'web',
    environment: opts.env ?? 'production',
    type: opts.type ?? 'standard',
    state,
    requestedAt: iso(t),
    releaseRegisteredAt: iso(t - (opts.leadHours ?? 1) * 60 * MIN),
    transitions,
    rollout,
  };
}

/** Ten production deployments in November: 2 rolled back at 10%, 1 at post-deploy, 1 hotfix. */
export const HISTORY: DeploymentFacts[] = [
  deployment(1, 1, { leadHours: 1, outcome: 'succeeded' }), // lead 100 min
  deployment(2, 2, { leadHours: 2, outcome: 'succeeded' }), // lead 160 min
  deployment(3, 3, { outcome: 'canary', rb: [2000, 5000] }),
  deployment(4, 4, { leadHours: 3, outcome: 'succeeded' }), // 220
  deployment(5, 5, { leadHours: 4, outcome: 'succeeded' }), // 280
  deployment(6, 6, { outcome: 'canary', rb: [4000, 9000] }),
  deployment(7, 7, { leadHours: 5, outcome: 'succeeded' }), // 340
  deployment(8, 8, { leadHours: 6, outcome: 'succeeded' }), // 400
  deployment(9, 9, { outcome: 'post_deploy', rb: [6000, 15000] }),
  deployment(10, 10, { leadHours: 0, type: 'hotfix', outcome: 'succeeded', approveMin: 5, doneMin: 15 }), // lead 15, deploy 10 min
  // Not counted: another environment, before the window, and one that never deployed.
  deployment(11, 11, { env: 'staging', outcome: 'canary', rb: [1, 1] }),
  { ...deployment(12, 1, { outcome: 'canary', rb: [1, 1] }), requestedAt: '2026-10-01T10:00:00.000Z' },
  deployment(13, 12, { outcome: 'cancelled' }),
];


/** Writes the history into a real store as shipgate would have: each release, each deployment
 * with its final state and rollout record, and one `deployment.state` audit event per change
 * at the scripted time. */
export async function writeHistory(store: Store, history: DeploymentFacts[]): Promise<void> {
  const actor: Actor = { user: 'carol', via: 'local' };
  for (const f of history) {
    await store.transaction(async (tx) => {
      const release = await tx.releases.insert({
        service: f.service,
        version: `1.0.${f.id}`,
        digest: `sha256:${String(f.id).padStart(64, '0')}`,
        commit: 'abc1234',
        builtAt: f.releaseRegisteredAt,
        createdAt: f.releaseRegisteredAt,
        createdBy: 'carol',
        reports: [],
      });
      const d = await tx.deployments.insert(
        { service: f.service, environment: f.environment, releaseId: release.id, version: release.version, type: f.type, incident: f.type === 'hotfix' ? 'INC-1' : null, state: 'requested', requestedBy: 'carol', requestedAt: f.requestedAt, updatedAt: f.requestedAt, reason: null, checks: [], previousReleaseId: null },
        false,
      );
      let from: DeploymentState = 'requested';
      for (const t of f.transitions) {
        await record(tx, new Date(t.at), actor, 'deployment.state', `deployment:${d.id}`, { from, to: t.to, reason: null, type: f.type });
        from = t.to;
      }
      await tx.deployments.update(d, { state: f.state, rollout: f.rollout, open: false, updatedAt: f.transitions.at(-1)!.at });
    });
  }
}

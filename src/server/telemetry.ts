// shipgate's own telemetry: the Prometheus metrics `/metrics` serves (docs/telemetry.md), in a
// registry of its own (never prom-client's global one, which a library may also fill).
//
// What happens to deployments is counted from one place: every audit event, once the
// transaction that wrote it has committed (features/audit/record.ts calls countAuditEvent
// through the store's afterCommit), so a change that rolled back is never counted. HTTP
// requests are timed by the server (app.ts), by route pattern, never by raw URL. The lease
// gauge is set by whoever takes and gives up rollout leases (setLeaseHeld).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'shipgate_' });

const deploymentTransitions = new Counter({
  name: 'shipgate_deployment_transitions_total',
  help: 'Deployments that moved from one state to another, by the state left and the state entered',
  labelNames: ['from', 'to'] as const,
  registers: [registry],
});
const deploymentsRequested = new Counter({
  name: 'shipgate_deployments_requested_total',
  help: 'Deployments requested, by environment and type',
  labelNames: ['environment', 'type'] as const,
  registers: [registry],
});
const approvals = new Counter({
  name: 'shipgate_approvals_total',
  help: 'Approvals and rejections given at the gate, by decision',
  labelNames: ['decision'] as const,
  registers: [registry],
});
const rolloutSteps = new Counter({
  name: 'shipgate_rollout_steps_total',
  help: 'Rollout steps whose analysis passed',
  registers: [registry],
});
const judgeVerdicts = new Counter({
  name: 'shipgate_judge_verdicts_total',
  help: "The canary judge's verdicts that moved a rollout: pass (a step passed), inconclusive (paused at the step limit), fail (rollback decided by the analysis)",
  labelNames: ['verdict'] as const,
  registers: [registry],
});
const rollouts = new Counter({
  name: 'shipgate_rollouts_finished_total',
  help: 'Rollouts that ended, by outcome: succeeded, rolled_back, rollback_failed',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
const rollbacks = new Counter({
  name: 'shipgate_rollbacks_total',
  help: 'Rollbacks decided, by trigger (smoke, analysis, crash, manual, post_deploy, timeout)',
  labelNames: ['trigger'] as const,
  registers: [registry],
});
const rollbackSeconds = new Histogram({
  name: 'shipgate_rollback_duration_seconds',
  help: 'From the rollback decision until traffic was back on stable (phase traffic), and until that was verified (phase verified)',
  labelNames: ['phase'] as const,
  buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
  registers: [registry],
});
const rolloutSeconds = new Histogram({
  name: 'shipgate_rollout_duration_seconds',
  help: 'How long rollouts that succeeded took',
  buckets: [30, 60, 120, 180, 300, 600, 900, 1800, 3600],
  registers: [registry],
});
const httpSeconds = new Histogram({
  name: 'shipgate_http_request_duration_seconds',
  help: 'HTTP requests served, by route pattern (e.g. /api/v1/deployments/:id/approvals), method and status',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const leaseHeld = new Gauge({
  name: 'shipgate_rollout_lease_held',
  help: "1 for each rollout this process drives now (holds the lease of); the series goes away when it lets go",
  labelNames: ['deployment'] as const,
  registers: [registry],
});

type OpenDeployments = () => Promise<Array<{ state: string; count: number }> | null>;
let openDeployments: OpenDeployments = async () => null;

/** Where the open-deployments gauge reads from at each scrape (server/app.ts sets the store's). */
export function readOpenDeploymentsFrom(source: OpenDeployments): void {
  openDeployments = source;
}

const storeUp = new Gauge({
  name: 'shipgate_store_up',
  help: 'Whether the store answered the last scrape (1) or not (0)',
  registers: [registry],
});
new Gauge({
  name: 'shipgate_open_deployments',
  help: 'Deployments not yet ended, by state (read from the store at each scrape)',
  labelNames: ['state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    try {
      const rows = await openDeployments();
      for (const r of rows ?? []) this.set({ state: r.state }, r.count);
      storeUp.set(1);
    } catch {
      storeUp.set(0);
    }
  },
});

/** Counts a committed audit event (features/audit/record.ts). Unknown actions count nothing. */
export function countAuditEvent(action: string, data: unknown): void {
  const d = (data ?? {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' && v ? v : 'unknown');
  switch (action) {
    case 'deployment.requested':
      deploymentsRequested.inc({ environment: text(d.environment), type: text(d.type) });
      break;
    case 'deployment.state':
      deploymentTransitions.inc({ from: text(d.from), to: text(d.to) });
      break;
    case 'approval.approved':
      approvals.inc({ decision: 'approve' });
      break;
    case 'approval.rejected':
      approvals.inc({ decision: 'reject' });
      break;
    case 'rollout.step_passed':
      rolloutSteps.inc();
      judgeVerdicts.inc({ verdict: 'pass' });
      break;
    case 'rollout.paused':
      judgeVerdicts.inc({ verdict: 'inconclusive' });
      break;
    case 'rollout.rollback_decided':
      rollbacks.inc({ trigger: text(d.trigger) });
      if (d.trigger === 'analysis') judgeVerdicts.inc({ verdict: 'fail' });
      break;
    case 'rollout.succeeded':
      rollouts.inc({ outcome: 'succeeded' });
      if (typeof d.durationMs === 'number') rolloutSeconds.observe(d.durationMs / 1000);
      break;
    case 'rollout.rolled_back':
    case 'rollout.rollback_failed':
      rollouts.inc({ outcome: action === 'rollout.rolled_back' ? 'rolled_back' : 'rollback_failed' });
      if (typeof d.msToTraffic === 'number') rollbackSeconds.observe({ phase: 'traffic' }, d.msToTraffic / 1000);
      if (typeof d.msToVerified === 'number') rollbackSeconds.observe({ phase: 'verified' }, d.msToVerified / 1000);
      break;
  }
}

/** Times one HTTP request (server/app.ts): `route` is the route's pattern, never the URL. */
export function observeRequest(route: string, method: string, status: number, seconds: number): void {
  httpSeconds.observe({ route, method, status: String(status) }, seconds);
}

/**
 * The lease gauge: call with true when this process takes (or renews after losing) the lease of
 * a deployment's rollout, and with false when it gives it up or loses it; the series is removed
 * then, so a gauge is never left at 1 for a rollout another replica drives.
 */
export function setLeaseHeld(deploymentId: number, held: boolean): void {
  if (held) leaseHeld.set({ deployment: String(deploymentId) }, 1);
  else leaseHeld.remove({ deployment: String(deploymentId) });
}

/** The metrics in Prometheus's text format, with its content type. */
export async function scrape(): Promise<{ contentType: string; text: string }> {
  return { contentType: registry.contentType, text: await registry.metrics() };
}

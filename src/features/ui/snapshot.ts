// What the live rollout page shows at one moment, from the deployment's persisted record: the
// step and weights, the judge's figures so far (error rate and geometric-mean latency of each
// version, from the analysis state the controller stores), the verdict's reasons, the smoke
// results and the rollback's timings. Pure: the record and the time in, plain data out.
import type { Deployment } from '../../domain/types.js';

interface Side {
  n?: number;
  errors?: number;
  latency?: { n?: number; sum?: number };
}

export interface RolloutSnapshot {
  at: number;
  state: string;
  phase: string | null;
  step: string;
  weight: number;
  verdict: string | null;
  reasons: { metric: string; verdict: string; sentence: string }[];
  smoke: { name: string; ok: boolean; reason: string }[];
  canary: { requests: number; errorRate: number | null; latencyMs: number | null };
  stable: { requests: number; errorRate: number | null; latencyMs: number | null };
  rollback: { reason: string; trigger: string; msToTraffic: number | null; msToVerified: number | null; ok: boolean | null } | null;
  reason: string | null;
}

function figures(side: Side | undefined) {
  const n = side?.n ?? 0;
  const ln = side?.latency;
  return {
    requests: n,
    errorRate: n > 0 ? (side?.errors ?? 0) / n : null,
    // The judge keeps the sum of log latencies; exp of their mean is the geometric mean.
    latencyMs: ln?.n ? Math.exp((ln.sum ?? 0) / ln.n) : null,
  };
}

export function rolloutSnapshot(d: Deployment, at: number): RolloutSnapshot {
  const r = d.rollout;
  const a = (r?.analysis ?? null) as { canary?: Side; stable?: Side } | null;
  const current = r?.steps[r.steps.length - 1] ?? null;
  const judged = [...(r?.steps ?? [])].reverse().find((s) => s.reasons.length) ?? null;
  const smoked = [...(r?.steps ?? [])].reverse().find((s) => s.smoke) ?? null;
  return {
    at,
    state: d.state,
    phase: r?.phase ?? null,
    step: r ? `${Math.min(r.step + 1, r.plan.steps.length)} of ${r.plan.steps.length} (${r.plan.steps.join(' → ')}%)` : 'not started',
    weight: r?.weight ?? 0,
    verdict: current?.verdict ?? judged?.verdict ?? null,
    reasons: (judged?.reasons ?? []).map((x) => ({ metric: x.metric, verdict: x.verdict, sentence: x.sentence })),
    smoke: (smoked?.smoke ?? []).map((x) => ({ name: x.name, ok: x.ok, reason: x.reason })),
    canary: figures(a?.canary),
    stable: figures(a?.stable),
    rollback: r?.rollback ? { reason: r.rollback.reason, trigger: r.rollback.trigger, msToTraffic: r.rollback.msToTraffic, msToVerified: r.rollback.msToVerified, ok: r.rollback.ok } : null,
    reason: d.reason,
  };
}

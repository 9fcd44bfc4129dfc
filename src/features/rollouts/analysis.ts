// What the controller needs from the canary judge, as a small interface over a plain JSON
// state it persists after every look; the judge itself is src/domain/canary.ts. A look brings
// batches: every request (the local proxy, nginx's log) or per-version counters (Prometheus).
import { type CanaryJudgement, createCanaryJudge, type JudgeOptions } from '../../domain/canary.js';
import type { MetricsBatch } from '../../drivers/driver.js';

export type Judgement = CanaryJudgement;

export interface CanaryAnalysis {
  start(): unknown;
  /** Adds one batch observed while the canary had `canaryShare` (0..1) of the traffic. */
  observe(state: unknown, batch: MetricsBatch, canaryShare: number): unknown;
  /** `proof: false` at a step before the last (see domain/canary.ts: errors at early steps). */
  judge(state: unknown, opts?: { proof?: boolean }): Judgement;
  /** After promotion: the new version alone, against the stable figures seen during the rollout. */
  postDeploy(state: unknown, batches: MetricsBatch[]): { ok: boolean; reasons: string[] };
}

export function canaryAnalysis(options: Partial<JudgeOptions> = {}): CanaryAnalysis {
  const judge = createCanaryJudge(options);
  return {
    start: judge.start,
    observe: (state, batch, share) => (batch.kind === 'requests' ? judge.observe(state, batch.records, share) : judge.observeCounts(state, batch, share)),
    judge: judge.judge,
    postDeploy: judge.postDeployBatches,
  };
}

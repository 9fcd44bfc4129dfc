// The rollout's shapes: the plan a service declares, and the record the controller persists
// after every action (in deployments.rollout), which is all it needs to carry on after a crash.
import type { CanaryReason } from '../domain/canary.js';

export interface SmokeCheckSpec {
  name: string;
  method?: string;
  path: string;
  expectStatus?: number;
  jsonEquals?: Record<string, unknown>;
  bodyContains?: string;
  headerPresent?: string;
  tokenEnv?: string;
  timeoutMs?: number;
}

export interface RolloutPlan {
  /** Canary weights in percent, ending at 100, e.g. [10, 50, 100]. */
  steps: number[];
  /** A step lasts at least this long even when the analysis passes earlier. */
  minStepSeconds: number;
  /** Past this, an inconclusive analysis does `onInconclusive`. */
  maxStepSeconds: number;
  onInconclusive: 'pause' | 'rollback';
  /** Seconds after promotion at which smoke tests and the analysis run again. */
  postDeployChecks: number[];
  smoke: SmokeCheckSpec[];
}

export const DEFAULT_PLAN: RolloutPlan = {
  steps: [10, 50, 100],
  minStepSeconds: 30,
  maxStepSeconds: 600,
  onInconclusive: 'pause',
  postDeployChecks: [0, 300, 1800],
  smoke: [],
};

export type RolloutPhase =
  | 'deploy' // start the canary, no traffic yet
  | 'weight' // set the weight of the current step
  | 'smoke' // smoke tests against the canary at this weight
  | 'analyse' // compare canary with stable until a verdict
  | 'paused' // inconclusive past the step's time limit: waiting for a human
  | 'promote' // make the canary the stable version
  | 'post_deploy' // verification at +0, +5, +30 min
  | 'finalize' // retire the old version
  | 'rollback' // traffic back to stable, then verify
  | 'done';

export interface SmokeOutcome {
  name: string;
  ok: boolean;
  status: number | null;
  durationMs: number;
  reason: string;
}

/** One metric's verdict with its evidence, as the canary judge gives it. */
export type VerdictReason = CanaryReason;

export interface StepRecord {
  weight: number;
  startedAt: string;
  smoke: SmokeOutcome[] | null;
  verdict: 'pass' | 'fail' | 'inconclusive' | null;
  reasons: VerdictReason[];
  canaryRequests: number;
  stableRequests: number;
  endedAt: string | null;
}

export interface RollbackRecord {
  reason: string;
  /** What triggered it: smoke, analysis, crash, manual, post_deploy, timeout. */
  trigger: string;
  decidedAt: string;
  trafficRestoredAt: string | null;
  verifiedAt: string | null;
  msToTraffic: number | null;
  msToVerified: number | null;
  ok: boolean | null;
  detail: string | null;
}

export interface RolloutRecord {
  plan: RolloutPlan;
  phase: RolloutPhase;
  /** Index into plan.steps of the current step. */
  step: number;
  /** The weight last confirmed applied by the driver. */
  weight: number;
  startedAt: string;
  steps: StepRecord[];
  /** The analysis's own serialisable state (see rollout/analysis.ts). */
  analysis: unknown;
  /** Where the metrics source left off. */
  cursor: string | null;
  /** Post-deploy checks: when each is due and what it found. */
  postDeploy: { dueAt: string; ranAt: string | null; ok: boolean | null; reasons: string[] }[];
  rollback: RollbackRecord | null;
  /** Fence token of the lease under which this record was last written. */
  fence: number | null;
  /** A human asked to resume or abort a paused rollout. */
  request: 'resume' | 'abort' | null;
}

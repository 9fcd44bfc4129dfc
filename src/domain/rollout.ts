// The rollout's shapes: the plan a service declares, and the record the controller persists
// after every action (in deployments.rollout), which is all it needs to carry on after a crash.
import type { CanaryReason } from './canary.js';

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
  /** Why and by whom, for a rollback asked by a person. */
  requestReason?: string | null;
  requestedBy?: string;
}

// ---- the reconciler's decisions ----------------------------------------------------------------
// Pure: record and observation in, action out (nextAction); record, action and what the action
// found in, the next record out (advance). The controller does the I/O between the two and
// persists what advance returns; the deployment's state is derived from the record (stateOf).

/** What the controller saw of the target before deciding. */
export interface Observed {
  /** The version being rolled out. */
  version: string;
  /** Whether the canary is running; null when the driver cannot tell. */
  canaryRunning: boolean | null;
}

export type RolloutAction =
  | { kind: 'deploy' }
  | { kind: 'set_weight'; weight: number }
  | { kind: 'smoke' }
  | { kind: 'analyse' }
  | { kind: 'resume' }
  | { kind: 'promote' }
  | { kind: 'post_deploy'; check: number }
  | { kind: 'verified' }
  | { kind: 'finalize' }
  | { kind: 'start_rollback'; trigger: string; reason: string }
  | { kind: 'rollback' }
  | { kind: 'wait'; message: string }
  | { kind: 'done' };

/** What an action found: each I/O action reports its own. */
export type ActionOutcome =
  | { kind: 'deploy' }
  | { kind: 'set_weight'; cursor: string | null }
  | { kind: 'smoke'; results: SmokeOutcome[]; canaryKnown: boolean }
  | { kind: 'analyse'; analysis: unknown; cursor: string | null; judged: Judged | null }
  | { kind: 'promote'; cursor: string | null }
  | { kind: 'post_deploy'; results: SmokeOutcome[]; reasons: string[]; cursor: string | null }
  | { kind: 'finalize' }
  | { kind: 'rollback'; restoredAt: Date | null; verifiedAt: Date | null; problems: string[]; failure: string | null }
  | { kind: 'none' };

/** The judge's verdict on the evidence so far (null: the target has no metrics). */
export interface Judged {
  verdict: 'pass' | 'fail' | 'inconclusive';
  reasons: CanaryReason[];
  canaryRequests: number;
  stableRequests: number;
}

/** Phases in which a canary is live and must be running. */
const WATCHED: ReadonlySet<RolloutPhase> = new Set(['smoke', 'analyse', 'paused', 'post_deploy']);

export function nextAction(rec: RolloutRecord, seen: Observed, now: Date): RolloutAction {
  if (rec.phase === 'rollback') return { kind: 'rollback' };
  if (rec.phase === 'done') return { kind: 'done' };
  if (rec.request === 'abort') {
    return { kind: 'start_rollback', trigger: 'manual', reason: `rollback requested by ${rec.requestedBy ?? 'a person'}${rec.requestReason ? `: ${rec.requestReason}` : ''}` };
  }
  // A canary that died is a failed canary, whatever the record says.
  if (WATCHED.has(rec.phase) && seen.canaryRunning === false) {
    return { kind: 'start_rollback', trigger: 'crash', reason: `the canary (${seen.version}) is not running any more` };
  }
  switch (rec.phase) {
    case 'deploy':
      return { kind: 'deploy' };
    case 'weight':
      return { kind: 'set_weight', weight: rec.plan.steps[rec.step] };
    case 'smoke':
      return { kind: 'smoke' };
    case 'analyse':
      return { kind: 'analyse' };
    case 'paused':
      return rec.request === 'resume' ? { kind: 'resume' } : { kind: 'wait', message: `paused at ${rec.weight}%: waiting for shipgate resume or abort` };
    case 'promote':
      return { kind: 'promote' };
    case 'post_deploy': {
      const due = rec.postDeploy.findIndex((c) => c.ranAt === null);
      if (due < 0) return { kind: 'verified' };
      const at = rec.postDeploy[due].dueAt;
      return Date.parse(at) > now.getTime() ? { kind: 'wait', message: `next post-deploy check at ${at}` } : { kind: 'post_deploy', check: due };
    }
    case 'finalize':
      return { kind: 'finalize' };
    default:
      return { kind: 'start_rollback', trigger: 'unknown', reason: `unknown rollout phase '${String(rec.phase)}'` };
  }
}

/** The next record, the audit event that goes with it, and what to tell the user. */
export interface Advance {
  record: RolloutRecord;
  event?: { action: RolloutEventAction; data: Record<string, unknown> };
  message: string;
  /** Whether this step changed anything worth persisting (a wait does not). */
  acted: boolean;
}

export type RolloutEventAction =
  | 'rollout.deployed'
  | 'rollout.weight'
  | 'rollout.smoke'
  | 'rollout.step_passed'
  | 'rollout.paused'
  | 'rollout.promoted'
  | 'rollout.verified'
  | 'rollout.succeeded'
  | 'rollout.rollback_decided'
  | 'rollout.rolled_back'
  | 'rollout.rollback_failed';

export function advance(prev: RolloutRecord, action: RolloutAction, outcome: ActionOutcome, now: Date, version: string): Advance {
  const rec: RolloutRecord = structuredClone(prev);
  const plan = rec.plan;
  const at = now.toISOString();
  switch (action.kind) {
    case 'deploy':
      rec.phase = 'weight';
      return { record: rec, message: `canary ${version} deployed, no traffic yet`, event: { action: 'rollout.deployed', data: { version } }, acted: true };
    case 'set_weight': {
      rec.weight = action.weight;
      rec.cursor = outcome.kind === 'set_weight' ? outcome.cursor : null;
      rec.steps[rec.step] = { weight: action.weight, startedAt: at, smoke: null, verdict: null, reasons: [], canaryRequests: 0, stableRequests: 0, endedAt: null };
      rec.phase = plan.smoke.length ? 'smoke' : action.weight === 100 ? 'promote' : 'analyse';
      return {
        record: rec,
        message: `step ${rec.step + 1}/${plan.steps.length}: ${action.weight}% of traffic on ${version}`,
        event: { action: 'rollout.weight', data: { step: rec.step + 1, weight: action.weight } },
        acted: true,
      };
    }
    case 'smoke': {
      const o = outcome as Extract<ActionOutcome, { kind: 'smoke' }>;
      rec.steps[rec.step].smoke = o.results;
      const failed = o.results.filter((r) => !r.ok).map((r) => r.reason);
      if (!o.canaryKnown) failed.push('the driver does not know where the canary is');
      if (failed.length) return decideRollback(rec, 'smoke', `smoke test failed: ${failed.join('; ')}`, at);
      rec.phase = rec.weight === 100 ? 'promote' : 'analyse';
      return {
        record: rec,
        message: `smoke tests passed at ${rec.weight}% (${o.results.length} checks)`,
        event: { action: 'rollout.smoke', data: { step: rec.step + 1, weight: rec.weight, results: o.results } },
        acted: true,
      };
    }
    case 'analyse':
      return analysed(rec, outcome as Extract<ActionOutcome, { kind: 'analyse' }>, now);
    case 'resume':
      rec.request = null;
      return nextStep(rec, 'resumed by a person');
    case 'promote': {
      rec.weight = 100;
      rec.postDeploy = plan.postDeployChecks.map((s) => ({ dueAt: new Date(now.getTime() + s * 1000).toISOString(), ranAt: null, ok: null, reasons: [] }));
      rec.cursor = outcome.kind === 'promote' ? outcome.cursor : null;
      rec.phase = 'post_deploy';
      return { record: rec, message: `${version} takes all traffic; verifying after deploy`, event: { action: 'rollout.promoted', data: { version } }, acted: true };
    }
    case 'post_deploy': {
      const o = outcome as Extract<ActionOutcome, { kind: 'post_deploy' }>;
      const check = rec.postDeploy[action.check];
      rec.cursor = o.cursor;
      check.ranAt = at;
      check.ok = o.reasons.length === 0;
      check.reasons = o.reasons;
      if (!check.ok) return decideRollback(rec, 'post_deploy', `post-deploy check ${action.check + 1} failed: ${o.reasons.join('; ')}`, at);
      return {
        record: rec,
        message: `post-deploy check ${action.check + 1}/${rec.postDeploy.length} passed`,
        event: { action: 'rollout.verified', data: { check: action.check + 1, results: o.results } },
        acted: true,
      };
    }
    case 'verified':
      rec.phase = 'finalize';
      return { record: rec, message: 'post-deploy verification passed', acted: true };
    case 'finalize': {
      rec.phase = 'done';
      const ms = now.getTime() - Date.parse(rec.startedAt);
      return { record: rec, message: `succeeded in ${(ms / 1000).toFixed(1)} s`, event: { action: 'rollout.succeeded', data: { durationMs: ms } }, acted: true };
    }
    case 'start_rollback':
      return decideRollback(rec, action.trigger, action.reason, at);
    case 'rollback':
      return rolledBack(rec, outcome as Extract<ActionOutcome, { kind: 'rollback' }>, now);
    case 'wait':
      return { record: prev, message: action.message, acted: false };
    case 'done':
      return { record: prev, message: 'done', acted: false };
  }
}

function analysed(rec: RolloutRecord, o: Extract<ActionOutcome, { kind: 'analyse' }>, now: Date): Advance {
  const plan = rec.plan;
  const step = rec.steps[rec.step];
  const elapsed = (now.getTime() - Date.parse(step.startedAt)) / 1000;
  rec.analysis = o.analysis;
  rec.cursor = o.cursor;
  const judged: Judged = o.judged ?? {
    verdict: 'pass',
    reasons: [{ metric: 'none', verdict: 'pass', sentence: 'no metrics source: the step passes on its smoke tests and minimum time' }],
    canaryRequests: 0,
    stableRequests: 0,
  };
  step.verdict = judged.verdict;
  step.reasons = judged.reasons;
  step.canaryRequests = judged.canaryRequests;
  step.stableRequests = judged.stableRequests;
  if (judged.verdict === 'fail') {
    const why = judged.reasons.filter((r) => r.verdict === 'fail').map((r) => r.sentence).join('; ');
    return decideRollback(rec, 'analysis', `analysis failed at ${rec.weight}%: ${why}`, now.toISOString());
  }
  if (judged.verdict === 'pass' && elapsed >= plan.minStepSeconds) {
    step.endedAt = now.toISOString();
    return nextStep(rec, `analysis passed at ${rec.weight}% after ${judged.canaryRequests} canary requests`);
  }
  if (elapsed >= plan.maxStepSeconds) {
    if (plan.onInconclusive === 'rollback') {
      const open = judged.reasons.filter((r) => r.verdict !== 'pass').map((r) => r.sentence).join('; ');
      return decideRollback(rec, 'timeout', `analysis still ${judged.verdict} after ${plan.maxStepSeconds} s at ${rec.weight}%: ${open}`, now.toISOString());
    }
    rec.phase = 'paused';
    return {
      record: rec,
      message: `paused at ${rec.weight}%: analysis ${judged.verdict} after ${plan.maxStepSeconds} s`,
      event: { action: 'rollout.paused', data: { step: rec.step + 1, weight: rec.weight, reasons: judged.reasons } },
      acted: true,
    };
  }
  // Still collecting evidence: the analysis is persisted, so a restart keeps it.
  return { record: rec, message: `${rec.weight}%: ${judged.canaryRequests} canary / ${judged.stableRequests} stable requests, ${judged.verdict}`, acted: false };
}

function nextStep(rec: RolloutRecord, message: string): Advance {
  if (rec.step >= rec.plan.steps.length - 1) {
    rec.phase = 'promote';
  } else {
    rec.step += 1;
    rec.phase = 'weight';
  }
  return { record: rec, message, event: { action: 'rollout.step_passed', data: { step: rec.step, weight: rec.weight, message } }, acted: true };
}

function decideRollback(rec: RolloutRecord, trigger: string, reason: string, at: string): Advance {
  rec.rollback = { reason, trigger, decidedAt: at, trafficRestoredAt: null, verifiedAt: null, msToTraffic: null, msToVerified: null, ok: null, detail: null };
  rec.phase = 'rollback';
  rec.request = null;
  return {
    record: rec,
    message: `ROLLING BACK (${trigger}): ${reason}`,
    event: { action: 'rollout.rollback_decided', data: { trigger, reason, weight: rec.weight, step: rec.step + 1 } },
    acted: true,
  };
}

function rolledBack(rec: RolloutRecord, o: Extract<ActionOutcome, { kind: 'rollback' }>, now: Date): Advance {
  rec.rollback ??= { reason: 'rollback requested', trigger: 'manual', decidedAt: now.toISOString(), trafficRestoredAt: null, verifiedAt: null, msToTraffic: null, msToVerified: null, ok: null, detail: null };
  const rb = rec.rollback;
  const decided = Date.parse(rb.decidedAt);
  rec.phase = 'done';
  if (o.failure) {
    rb.ok = false;
    rb.detail = `traffic could not be moved back: ${o.failure}`;
    return { record: rec, message: `ROLLBACK FAILED: ${rb.detail}`, event: { action: 'rollout.rollback_failed', data: { ...rb } }, acted: true };
  }
  rec.weight = 0;
  rb.trafficRestoredAt = o.restoredAt!.toISOString();
  rb.msToTraffic = o.restoredAt!.getTime() - decided;
  rb.verifiedAt = o.verifiedAt!.toISOString();
  rb.msToVerified = o.verifiedAt!.getTime() - decided;
  rb.ok = o.problems.length === 0;
  rb.detail = o.problems.length ? o.problems.join('; ') : 'stable serves and passes its health checks';
  if (!rb.ok) return { record: rec, message: `ROLLBACK FAILED verification: ${rb.detail}`, event: { action: 'rollout.rollback_failed', data: { ...rb } }, acted: true };
  return { record: rec, message: `rolled back: traffic on stable in ${rb.msToTraffic} ms, verified in ${rb.msToVerified} ms`, event: { action: 'rollout.rolled_back', data: { ...rb } }, acted: true };
}

/** The deployment state a rollout record stands for: never set by hand. */
export function stateOf(rec: RolloutRecord): 'rolling_out' | 'verifying' | 'succeeded' | 'rolling_back' | 'rolled_back' | 'rollback_failed' {
  if (rec.rollback) {
    if (rec.phase !== 'done') return 'rolling_back';
    return rec.rollback.ok ? 'rolled_back' : 'rollback_failed';
  }
  if (rec.phase === 'done') return 'succeeded';
  return rec.phase === 'post_deploy' || rec.phase === 'finalize' ? 'verifying' : 'rolling_out';
}

/** The reason a deployment carries into the state `stateOf` gives (null: none). */
export function reasonOf(rec: RolloutRecord): string | null {
  const rb = rec.rollback;
  if (!rb) return null;
  if (rec.phase === 'done' && rb.ok === false) {
    const moved = !rb.detail?.startsWith('traffic could not be moved back');
    return `${rb.reason}; rollback ${moved ? 'verification ' : ''}failed: ${rb.detail}`;
  }
  return rb.reason;
}

/** The record a rollout starts from; a first deployment (nothing to compare with) goes to 100% at once. */
export function firstRecord(plan: RolloutPlan, firstDeployment: boolean, analysis: unknown, now: Date): RolloutRecord {
  return {
    plan: firstDeployment ? { ...plan, steps: [100] } : plan,
    phase: 'deploy',
    step: 0,
    weight: 0,
    startedAt: now.toISOString(),
    steps: [],
    analysis,
    cursor: null,
    postDeploy: [],
    rollback: null,
    fence: null,
    request: null,
  };
}

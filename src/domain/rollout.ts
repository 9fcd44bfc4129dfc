// The rollout's shapes: the plan a service declares, and the record the controller persists
// after every action (in deployments.rollout), which is all it needs to carry on after a crash.
import { type CanaryReason, type JudgeFigures, judgeFigures } from './canary.js';

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
  | 'migrate' // run the service's migration up, before any canary
  | 'deploy' // start the canary, no traffic yet
  | 'weight' // set the weight of the current step
  | 'smoke' // smoke tests against the canary at this weight
  | 'analyse' // compare canary with stable until a verdict
  | 'paused' // inconclusive past the step's time limit: waiting for a human
  | 'promote' // make the canary the stable version
  | 'post_deploy' // verification at +0, +5, +30 min
  | 'finalize' // retire the old version
  | 'rollback' // traffic back to stable, then verify
  | 'migrate_down' // undo the migration: after a failed up, or once traffic is back on stable
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
  /** The judge's figures at the step's last look, cumulative over the rollout so far (the
   * readiness report takes per-step error rates from their differences); absent in records
   * written before shipgate kept them. */
  figures?: JudgeFigures | null;
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

/** One run of the migration, written before the command starts and completed after it. */
export interface MigrationRunRecord {
  direction: 'up' | 'down';
  /** 1 for the first run of this direction, 2 after an interrupted one, ... */
  attempt: number;
  startedAt: string;
  /** Null while it runs, and forever for a run the controller was killed during. */
  endedAt: string | null;
  ok: boolean | null;
  durationMs: number | null;
  countBefore: number | null;
  countAfter: number | null;
  error: string | null;
}

/** The service's migration in this rollout (absent when it declares none). */
export interface MigrationRecord {
  /** Whether a down command was declared when the rollout started. */
  hasDown: boolean;
  runs: MigrationRunRecord[];
  /** Why the rollout was blocked before any canary (the up failed): the deployment fails. */
  blocked: string | null;
}

/** A run interrupted this many times (the controller killed while it ran) is not tried again. */
export const MIGRATION_ATTEMPTS = 3;

export interface RolloutRecord {
  plan: RolloutPlan;
  /** The migration run before the canary, when the service declares one. */
  migration?: MigrationRecord | null;
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
  | { kind: 'migrate'; direction: 'up' | 'down'; attempt: number }
  | { kind: 'migration_interrupted'; direction: 'up' | 'down'; reason: string }
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
  | { kind: 'migrate'; environment: string; ok: boolean; durationMs: number; countBefore: number | null; countAfter: number | null; error: string | null }
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
  // Undoing the migration is the way to safety already under way: a person's abort adds nothing.
  if (rec.phase === 'migrate_down') return migrationRun(rec, 'down');
  if (rec.request === 'abort') {
    return { kind: 'start_rollback', trigger: 'manual', reason: `rollback requested by ${rec.requestedBy ?? 'a person'}${rec.requestReason ? `: ${rec.requestReason}` : ''}` };
  }
  // A canary that died is a failed canary, whatever the record says.
  if (WATCHED.has(rec.phase) && seen.canaryRunning === false) {
    return { kind: 'start_rollback', trigger: 'crash', reason: `the canary (${seen.version}) is not running any more` };
  }
  switch (rec.phase) {
    case 'migrate':
      return migrationRun(rec, 'up');
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

/**
 * The run to do next in `direction`. A run the record shows started but never ended was
 * interrupted (the controller was killed while it ran): it is run again, since up and down must
 * be idempotent, unless it was interrupted MIGRATION_ATTEMPTS times already.
 */
function migrationRun(rec: RolloutRecord, direction: 'up' | 'down'): RolloutAction {
  const runs = (rec.migration?.runs ?? []).filter((r) => r.direction === direction);
  const last = runs.at(-1);
  if (last && last.endedAt === null && last.attempt >= MIGRATION_ATTEMPTS) {
    return { kind: 'migration_interrupted', direction, reason: `the migration ${direction} was interrupted ${last.attempt} times (the controller stopped while it ran); not run again` };
  }
  return { kind: 'migrate', direction, attempt: (last?.attempt ?? 0) + 1 };
}

/** The record as it is written just before a migration command starts: a restart then knows
 * the command may have run, in part. */
export function migrationStarted(rec: RolloutRecord, action: Extract<RolloutAction, { kind: 'migrate' }>, now: Date): RolloutRecord {
  const next = structuredClone(rec);
  next.migration ??= { hasDown: false, runs: [], blocked: null };
  next.migration.runs.push({ direction: action.direction, attempt: action.attempt, startedAt: now.toISOString(), endedAt: null, ok: null, durationMs: null, countBefore: null, countAfter: null, error: null });
  return next;
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
  | 'rollout.rollback_failed'
  | 'migration.ran';

export function advance(prev: RolloutRecord, action: RolloutAction, outcome: ActionOutcome, now: Date, version: string): Advance {
  const rec: RolloutRecord = structuredClone(prev);
  const plan = rec.plan;
  const at = now.toISOString();
  switch (action.kind) {
    case 'migrate':
      return migrated(rec, action, outcome as Extract<ActionOutcome, { kind: 'migrate' }>, now, version);
    case 'migration_interrupted':
      return migrationGaveUp(rec, action.direction, action.reason, at);
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

function migrated(rec: RolloutRecord, action: Extract<RolloutAction, { kind: 'migrate' }>, o: Extract<ActionOutcome, { kind: 'migrate' }>, now: Date, version: string): Advance {
  const m = (rec.migration ??= { hasDown: false, runs: [], blocked: null });
  let run = m.runs.at(-1);
  if (!run || run.direction !== action.direction || run.endedAt !== null) {
    run = { direction: action.direction, attempt: action.attempt, startedAt: now.toISOString(), endedAt: null, ok: null, durationMs: null, countBefore: null, countAfter: null, error: null };
    m.runs.push(run);
  }
  Object.assign(run, { endedAt: now.toISOString(), ok: o.ok, durationMs: o.durationMs, countBefore: o.countBefore, countAfter: o.countAfter, error: o.error });
  const during = action.direction === 'up' || !rec.rollback ? 'rollout' : 'rollback';
  const event = {
    action: 'migration.ran' as const,
    data: { environment: o.environment, version, direction: action.direction, ok: o.ok, durationMs: o.durationMs, countBefore: o.countBefore, countAfter: o.countAfter, during, error: o.error },
  };
  const counts = o.countBefore !== null || o.countAfter !== null ? ` (records ${o.countBefore ?? '?'} → ${o.countAfter ?? '?'})` : '';
  if (action.direction === 'up') {
    if (o.ok) {
      rec.phase = 'deploy';
      return { record: rec, message: `migration up ran in ${o.durationMs} ms${counts}`, event, acted: true };
    }
    m.blocked = `migration up failed, the rollout is blocked: ${o.error}`;
    rec.phase = m.hasDown ? 'migrate_down' : 'done';
    const undo = m.hasDown ? '; running down' : '; no down declared';
    return { record: rec, message: `MIGRATION FAILED: ${o.error}${undo}`, event, acted: true };
  }
  rec.phase = 'done';
  if (o.ok) {
    if (m.blocked && !rec.rollback) m.blocked += '; migration down ran: the database is back as it was';
    return { record: rec, message: `migration down ran in ${o.durationMs} ms${counts}`, event, acted: true };
  }
  downFailed(rec, `migration down failed: ${o.error}`);
  return { record: rec, message: `MIGRATION DOWN FAILED: ${o.error}`, event, acted: true };
}

/** A migration run interrupted too often: an up blocks the rollout (down follows), a down fails. */
function migrationGaveUp(rec: RolloutRecord, direction: 'up' | 'down', reason: string, at: string): Advance {
  const m = (rec.migration ??= { hasDown: false, runs: [], blocked: null });
  const run = m.runs.filter((r) => r.direction === direction).at(-1);
  if (run && run.endedAt === null) Object.assign(run, { endedAt: at, ok: false, error: reason });
  if (direction === 'up') {
    m.blocked = `migration up failed, the rollout is blocked: ${reason}`;
    rec.phase = m.hasDown ? 'migrate_down' : 'done';
  } else {
    rec.phase = 'done';
    downFailed(rec, reason);
  }
  return { record: rec, message: `MIGRATION FAILED: ${reason}`, acted: true };
}

/** A down that failed: after a blocked up, the deployment's reason says so; after a rollback,
 * the rollback failed (traffic is on stable, the database is not back). */
function downFailed(rec: RolloutRecord, why: string): void {
  if (rec.rollback) {
    rec.rollback.ok = false;
    rec.rollback.detail = `traffic is back on stable, but ${why}; the database still has the migration of the rolled-back version`;
  } else if (rec.migration) {
    rec.migration.blocked = `${rec.migration.blocked ?? 'the rollout is blocked'}; ${why}; the database may be half-migrated`;
  }
}

/** Whether the migration's up was started in this rollout: its effects are then undone with down. */
function needsDown(rec: RolloutRecord): boolean {
  const m = rec.migration;
  return !!m && m.hasDown && m.runs.some((r) => r.direction === 'up') && !m.runs.some((r) => r.direction === 'down' && r.ok);
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
  step.figures = o.judged ? judgeFigures(o.analysis) : null;
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
    rb.detail = `traffic could not be moved back: ${o.failure}${needsDown(rec) ? '; the migration down was not run' : ''}`;
    return { record: rec, message: `ROLLBACK FAILED: ${rb.detail}`, event: { action: 'rollout.rollback_failed', data: { ...rb } }, acted: true };
  }
  rec.weight = 0;
  rb.trafficRestoredAt = o.restoredAt!.toISOString();
  rb.msToTraffic = o.restoredAt!.getTime() - decided;
  rb.verifiedAt = o.verifiedAt!.toISOString();
  rb.msToVerified = o.verifiedAt!.getTime() - decided;
  rb.ok = o.problems.length === 0;
  rb.detail = o.problems.length ? o.problems.join('; ') : 'stable serves and passes its health checks';
  // The database goes back only under a stable verified to serve: a down under a canary still
  // taking traffic would break it.
  if (needsDown(rec)) {
    if (rb.ok) rec.phase = 'migrate_down';
    else rb.detail += '; the migration down was not run';
  }
  if (!rb.ok) return { record: rec, message: `ROLLBACK FAILED verification: ${rb.detail}`, event: { action: 'rollout.rollback_failed', data: { ...rb } }, acted: true };
  return { record: rec, message: `rolled back: traffic on stable in ${rb.msToTraffic} ms, verified in ${rb.msToVerified} ms`, event: { action: 'rollout.rolled_back', data: { ...rb } }, acted: true };
}

/** The deployment state a rollout record stands for: never set by hand. */
export function stateOf(rec: RolloutRecord): 'rolling_out' | 'verifying' | 'succeeded' | 'failed' | 'rolling_back' | 'rolled_back' | 'rollback_failed' {
  if (rec.migration?.blocked && !rec.rollback) return rec.phase === 'done' ? 'failed' : 'rolling_out';
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
  if (!rb) return rec.migration?.blocked ?? null;
  if (rec.phase === 'done' && rb.ok === false) {
    const moved = !rb.detail?.startsWith('traffic could not be moved back') && !rb.detail?.startsWith('traffic is back on stable');
    return `${rb.reason}; rollback ${moved ? 'verification ' : ''}failed: ${rb.detail}`;
  }
  return rb.reason;
}

/** The record a rollout starts from; a first deployment (nothing to compare with) goes to 100% at once. */
export function firstRecord(plan: RolloutPlan, firstDeployment: boolean, analysis: unknown, now: Date, migration: { hasDown: boolean } | null = null): RolloutRecord {
  return {
    plan: firstDeployment ? { ...plan, steps: [100] } : plan,
    ...(migration ? { migration: { hasDown: migration.hasDown, runs: [], blocked: null } } : {}),
    phase: migration ? 'migrate' : 'deploy',
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

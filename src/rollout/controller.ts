// The rollout controller: a reconciler. Each `step` reads a deployment's persisted record,
// looks at the target, takes one action, and writes the record back (with its audit event).
// Killed at any point and started again, it carries on from the record: every driver action
// is idempotent, timed phases keep their start times, and where the target no longer matches
// what the record says (a crashed canary, a lost runtime) it rolls back to safety.
import { type Actor, type Shipgate } from '../app/shipgate.js';
import type { Deployment } from '../domain/types.js';
import { StaleRevisionError } from '../store/repository.js';
import { type Driver, DriverError, type RolloutContext } from '../drivers/types.js';
import { InputError } from '../errors.js';
import type { CanaryAnalysis, MetricsSource } from './analysis.js';
import type { RollbackRecord, RolloutPlan, RolloutRecord, SmokeCheckSpec, SmokeOutcome, StepRecord } from './types.js';

export interface Target {
  driver: Driver;
  /** Null when the target has no metrics: steps then advance on smoke tests and time alone. */
  metrics: MetricsSource | null;
  plan: RolloutPlan;
}

export interface ControllerOptions {
  app: Shipgate;
  /** How to reach the target of a deployment (its driver, metrics and plan). */
  target: (d: Deployment) => Target;
  analysis: CanaryAnalysis;
  smoke: (baseUrl: string, checks: SmokeCheckSpec[]) => Promise<SmokeOutcome[]>;
  now?: () => Date;
  /** Called after every action, for progress displays. */
  onProgress?: (d: Deployment, message: string) => void;
}

export type StepResult = { acted: boolean; done: boolean; message: string };

const CONTROLLER: Actor = { user: 'shipgate', via: 'system' };
const ROLLOUT_STATES = new Set(['rolling_out', 'verifying', 'rolling_back']);

export class RolloutController {
  private readonly now: () => Date;

  constructor(private readonly opts: ControllerOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Takes at most one action on a deployment. */
  async step(id: number): Promise<StepResult> {
    try {
      return await this.stepOnce(id);
    } catch (err) {
      // Someone (a person asking for a rollback, another replica) changed the deployment
      // while this step ran: read it again on the next step. Driver actions are idempotent.
      if (err instanceof StaleRevisionError) return { acted: false, done: false, message: 'changed meanwhile; reading it again' };
      throw err;
    }
  }

  private async stepOnce(id: number): Promise<StepResult> {
    const { app } = this.opts;
    let d = await app.deploymentRecord(id);
    if (d.state === 'approved' || d.state === 'waiting_for_window') {
      const { view } = await app.refresh(CONTROLLER, id);
      d = view.deployment;
      if (d.state !== 'approved') return { acted: false, done: false, message: view.waitingFor ?? d.state };
      const target = this.opts.target(d);
      // A first deployment has no stable version to compare with or to split traffic against:
      // it goes straight to 100% behind its smoke tests and post-deploy checks.
      const plan = d.previousReleaseId === null ? { ...target.plan, steps: [100] } : target.plan;
      const record = this.newRecord(plan);
      await app.start(CONTROLLER, id, record);
      const first = d.previousReleaseId === null ? ' (first deployment here: nothing to compare with)' : '';
      return this.report(await app.deploymentRecord(id), true, `rollout started: steps ${plan.steps.join(' → ')}%${first}`);
    }
    if (!ROLLOUT_STATES.has(d.state) || d.rollout === null) {
      return { acted: false, done: true, message: `deployment ${id} is ${d.state}` };
    }
    return this.advance(d, d.rollout as RolloutRecord);
  }

  /** Runs one deployment to its end in the foreground, polling every `pollMs`. */
  async run(id: number, opts: { pollMs?: number; deadlineMs?: number } = {}): Promise<Deployment> {
    const poll = opts.pollMs ?? 500;
    const deadline = Date.now() + (opts.deadlineMs ?? 6 * 3600_000);
    for (;;) {
      const r = await this.step(id);
      if (r.done) return this.opts.app.deploymentRecord(id);
      if (Date.now() > deadline) throw new Error(`deployment ${id} did not finish in time (${r.message})`);
      if (!r.acted) await new Promise((resolve) => setTimeout(resolve, poll));
    }
  }

  private newRecord(plan: RolloutPlan): RolloutRecord {
    return {
      plan,
      phase: 'deploy',
      step: 0,
      weight: 0,
      startedAt: this.now().toISOString(),
      steps: [],
      analysis: this.opts.analysis.start(),
      cursor: null,
      postDeploy: [],
      rollback: null,
      fence: null,
      request: null,
    };
  }

  private async context(d: Deployment): Promise<RolloutContext> {
    const view = await this.opts.app.getDeployment(d.id);
    const previous = d.previousReleaseId ? await this.releaseById(d.previousReleaseId) : null;
    return {
      deploymentId: d.id,
      service: d.service,
      environment: d.environment,
      version: d.version,
      digest: view.release.digest,
      stableVersion: previous?.version ?? null,
      stableDigest: previous?.digest ?? null,
    };
  }

  private releaseById(id: number) {
    return this.opts.app.releaseById(id);
  }

  private report(d: Deployment, acted: boolean, message: string, done = false): StepResult {
    this.opts.onProgress?.(d, message);
    return { acted, done, message };
  }

  private async save(d: Deployment, record: RolloutRecord, message: string, opts: Parameters<Shipgate['saveRollout']>[3] = {}, done = false) {
    const next = await this.opts.app.saveRollout(CONTROLLER, d, record, opts);
    return this.report(next, true, message, done);
  }

  private async advance(d: Deployment, rec: RolloutRecord): Promise<StepResult> {
    const target = this.opts.target(d);
    const ctx = await this.context(d);
    const now = this.now();
    const record: RolloutRecord = structuredClone(rec);
    const plan = record.plan;

    if (d.state === 'rolling_back' || record.phase === 'rollback') return this.finishRollback(d, record, target, ctx);

    if (record.request === 'abort') {
      const who = (record as { requestedBy?: string }).requestedBy ?? 'a person';
      const why = (record as { requestReason?: string | null }).requestReason;
      return this.startRollback(d, record, target, ctx, 'manual', `rollback requested by ${who}${why ? `: ${why}` : ''}`);
    }

    // Observe the target: a canary that died is a failed canary, whatever the record says.
    if (record.phase === 'smoke' || record.phase === 'analyse' || record.phase === 'paused' || record.phase === 'post_deploy') {
      const seen = await target.driver.observe(ctx).catch(() => null);
      if (seen && !seen.canaryRunning) {
        return this.startRollback(d, record, target, ctx, 'crash', `the canary (${d.version}) is not running any more`);
      }
    }

    try {
      return await this.act(d, record, target, ctx, now);
    } catch (err) {
      // The target refused an action (the canary would not start, the runtime is gone): that
      // is a failed rollout, and the way to safety is the same rollback.
      if (err instanceof DriverError || err instanceof InputError) {
        return this.startRollback(d, record, target, ctx, 'driver', `${record.phase} failed: ${err.message}`);
      }
      throw err;
    }
  }

  private async act(d: Deployment, record: RolloutRecord, target: Target, ctx: RolloutContext, now: Date): Promise<StepResult> {
    const plan = record.plan;
    switch (record.phase) {
      case 'deploy': {
        await target.driver.deploy(ctx);
        record.phase = 'weight';
        return this.save(d, record, `canary ${d.version} deployed, no traffic yet`, {
          event: { action: 'rollout.deployed', data: { version: d.version } },
        });
      }
      case 'weight': {
        const weight = plan.steps[record.step];
        await target.driver.setWeight(ctx, weight);
        record.weight = weight;
        record.cursor = target.metrics ? await target.metrics.cursor() : null;
        record.steps[record.step] = newStep(weight, now);
        record.phase = plan.smoke.length ? 'smoke' : weight === 100 ? 'promote' : 'analyse';
        return this.save(d, record, `step ${record.step + 1}/${plan.steps.length}: ${weight}% of traffic on ${d.version}`, {
          event: { action: 'rollout.weight', data: { step: record.step + 1, weight } },
        });
      }
      case 'smoke': {
        const url = target.driver.urls(ctx).canary;
        const results = url ? await this.opts.smoke(url, plan.smoke) : [];
        const step = record.steps[record.step];
        step.smoke = results;
        const failed = results.filter((r) => !r.ok);
        if (!url) failed.push({ name: 'canary-url', ok: false, status: null, durationMs: 0, reason: 'the driver does not know where the canary is' });
        if (failed.length) {
          return this.startRollback(d, record, target, ctx, 'smoke', `smoke test failed: ${failed.map((f) => f.reason).join('; ')}`);
        }
        record.phase = record.weight === 100 ? 'promote' : target.metrics ? 'analyse' : 'analyse';
        return this.save(d, record, `smoke tests passed at ${record.weight}% (${results.length} checks)`, {
          event: { action: 'rollout.smoke', data: { step: record.step + 1, weight: record.weight, results } },
        });
      }
      case 'analyse':
        return this.analyse(d, record, target, ctx, now);
      case 'paused': {
        if (record.request === 'resume') {
          record.request = null;
          return this.nextStep(d, record, 'resumed by a person');
        }
        return { acted: false, done: false, message: `paused at ${record.weight}%: waiting for shipgate resume or abort` };
      }
      case 'promote': {
        await target.driver.promote(ctx);
        record.weight = 100;
        const at = now.getTime();
        record.postDeploy = plan.postDeployChecks.map((s) => ({ dueAt: new Date(at + s * 1000).toISOString(), ranAt: null, ok: null, reasons: [] }));
        record.cursor = target.metrics ? await target.metrics.cursor() : null;
        record.phase = 'post_deploy';
        return this.save(d, record, `${d.version} takes all traffic; verifying after deploy`, {
          to: 'verifying',
          event: { action: 'rollout.promoted', data: { version: d.version } },
        });
      }
      case 'post_deploy':
        return this.postDeploy(d, record, target, ctx, now);
      case 'finalize': {
        await target.driver.finalize(ctx);
        record.phase = 'done';
        const ms = now.getTime() - Date.parse(record.startedAt);
        return this.save(d, record, `succeeded in ${(ms / 1000).toFixed(1)} s`, {
          to: 'succeeded',
          event: { action: 'rollout.succeeded', data: { durationMs: ms } },
        }, true);
      }
      case 'done':
        return { acted: false, done: true, message: 'done' };
      default:
        return this.startRollback(d, record, target, ctx, 'unknown', `unknown rollout phase '${String(record.phase)}'`);
    }
  }

  private async analyse(d: Deployment, record: RolloutRecord, target: Target, ctx: RolloutContext, now: Date): Promise<StepResult> {
    const plan = record.plan;
    const step = record.steps[record.step];
    const elapsed = (now.getTime() - Date.parse(step.startedAt)) / 1000;
    if (target.metrics) {
      const { records, cursor } = await target.metrics.read(record.cursor);
      record.cursor = cursor;
      record.analysis = this.opts.analysis.observe(record.analysis, records, record.weight / 100);
    }
    const judged = target.metrics
      ? this.opts.analysis.judge(record.analysis)
      : { verdict: 'pass' as const, reasons: [{ metric: 'none', verdict: 'pass' as const, sentence: 'no metrics source: the step passes on its smoke tests and minimum time' }], canaryRequests: 0, stableRequests: 0 };
    step.verdict = judged.verdict;
    step.reasons = judged.reasons;
    step.canaryRequests = judged.canaryRequests;
    step.stableRequests = judged.stableRequests;
    if (judged.verdict === 'fail') {
      const why = judged.reasons.filter((r) => r.verdict === 'fail').map((r) => r.sentence).join('; ');
      return this.startRollback(d, record, target, ctx, 'analysis', `analysis failed at ${record.weight}%: ${why}`);
    }
    if (judged.verdict === 'pass' && elapsed >= plan.minStepSeconds) {
      step.endedAt = now.toISOString();
      return this.nextStep(d, record, `analysis passed at ${record.weight}% after ${judged.canaryRequests} canary requests`);
    }
    if (elapsed >= plan.maxStepSeconds) {
      if (plan.onInconclusive === 'rollback') {
        const open = judged.reasons.filter((r) => r.verdict !== 'pass').map((r) => r.sentence).join('; ');
        return this.startRollback(d, record, target, ctx, 'timeout', `analysis still ${judged.verdict} after ${plan.maxStepSeconds} s at ${record.weight}%: ${open}`);
      }
      record.phase = 'paused';
      return this.save(d, record, `paused at ${record.weight}%: analysis ${judged.verdict} after ${plan.maxStepSeconds} s`, {
        event: { action: 'rollout.paused', data: { step: record.step + 1, weight: record.weight, reasons: judged.reasons } },
      });
    }
    // Still collecting evidence: persist the analysis so a restart keeps it.
    const message = `${record.weight}%: ${judged.canaryRequests} canary / ${judged.stableRequests} stable requests, ${judged.verdict}`;
    const next = await this.opts.app.saveRollout(CONTROLLER, d, record);
    this.opts.onProgress?.(next, message);
    return { acted: false, done: false, message };
  }

  private nextStep(d: Deployment, record: RolloutRecord, message: string): Promise<StepResult> {
    const last = record.step >= record.plan.steps.length - 1;
    if (last) {
      record.phase = 'promote';
    } else {
      record.step += 1;
      record.phase = 'weight';
    }
    return this.save(d, record, message, {
      event: { action: 'rollout.step_passed', data: { step: record.step, weight: record.weight, message } },
    });
  }

  private async postDeploy(d: Deployment, record: RolloutRecord, target: Target, ctx: RolloutContext, now: Date): Promise<StepResult> {
    const due = record.postDeploy.find((c) => c.ranAt === null);
    if (!due) {
      record.phase = 'finalize';
      return this.save(d, record, 'post-deploy verification passed');
    }
    if (Date.parse(due.dueAt) > now.getTime()) {
      return { acted: false, done: false, message: `next post-deploy check at ${due.dueAt}` };
    }
    const url = target.driver.urls(ctx).canary ?? target.driver.urls(ctx).stable;
    const results = url ? await this.opts.smoke(url, record.plan.smoke) : [];
    const reasons = results.filter((r) => !r.ok).map((r) => r.reason);
    if (target.metrics) {
      const { records, cursor } = await target.metrics.read(record.cursor);
      record.cursor = cursor;
      const guard = this.opts.analysis.postDeploy(record.analysis, records);
      if (!guard.ok) reasons.push(...guard.reasons);
    }
    due.ranAt = now.toISOString();
    due.ok = reasons.length === 0;
    due.reasons = reasons;
    const index = record.postDeploy.indexOf(due) + 1;
    if (!due.ok) {
      return this.startRollback(d, record, target, ctx, 'post_deploy', `post-deploy check ${index} failed: ${reasons.join('; ')}`);
    }
    return this.save(d, record, `post-deploy check ${index}/${record.postDeploy.length} passed`, {
      event: { action: 'rollout.verified', data: { check: index, results } },
    });
  }

  private newRollback(reason: string, trigger: string): RollbackRecord {
    const timing = { trafficRestoredAt: null, verifiedAt: null, msToTraffic: null, msToVerified: null, ok: null, detail: null };
    return { reason, trigger, decidedAt: this.now().toISOString(), ...timing };
  }

  /** Decides a rollback, persists the decision, then moves traffic at once. */
  private async startRollback(d: Deployment, record: RolloutRecord, target: Target, ctx: RolloutContext, trigger: string, reason: string): Promise<StepResult> {
    record.rollback = this.newRollback(reason, trigger);
    record.phase = 'rollback';
    record.request = null;
    const saved = await this.opts.app.saveRollout(CONTROLLER, d, record, {
      to: 'rolling_back',
      reason,
      event: { action: 'rollout.rollback_decided', data: { trigger, reason, weight: record.weight, step: record.step + 1 } },
    });
    this.opts.onProgress?.(saved, `ROLLING BACK (${trigger}): ${reason}`);
    return this.finishRollback(saved, record, target, ctx);
  }

  /** Traffic to stable, then verify stable serves; timed. Safe to repeat after a crash. */
  private async finishRollback(d: Deployment, record: RolloutRecord, target: Target, ctx: RolloutContext): Promise<StepResult> {
    const rb = record.rollback ?? this.newRollback(d.reason ?? 'rollback requested', 'manual');
    record.rollback = rb;
    const decided = Date.parse(rb.decidedAt);
    try {
      await target.driver.rollback(ctx);
    } catch (err) {
      rb.ok = false;
      rb.detail = `traffic could not be moved back: ${(err as Error).message}`;
      record.phase = 'done';
      return this.save(d, record, `ROLLBACK FAILED: ${rb.detail}`, {
        to: 'rollback_failed',
        reason: `${rb.reason}; rollback failed: ${rb.detail}`,
        event: { action: 'rollout.rollback_failed', data: { ...rb } },
      }, true);
    }
    const restored = this.now();
    rb.trafficRestoredAt = restored.toISOString();
    rb.msToTraffic = restored.getTime() - decided;
    record.weight = 0;
    // Verify: the stable version serves and passes its health checks.
    const problems: string[] = [];
    const seen = await target.driver.observe(ctx).catch(() => null);
    if (seen && (!seen.stableRunning || seen.canaryWeight !== 0)) {
      problems.push(`target still shows canary weight ${seen.canaryWeight}% / stable running: ${seen.stableRunning}`);
    }
    const url = target.driver.urls(ctx).stable;
    const health = record.plan.smoke.filter((c) => !c.tokenEnv);
    if (url && health.length) {
      const results = await this.opts.smoke(url, health);
      problems.push(...results.filter((r) => !r.ok).map((r) => r.reason));
    }
    const verified = this.now();
    rb.verifiedAt = verified.toISOString();
    rb.msToVerified = verified.getTime() - decided;
    rb.ok = problems.length === 0;
    rb.detail = problems.length ? problems.join('; ') : 'stable serves and passes its health checks';
    record.phase = 'done';
    if (!rb.ok) {
      return this.save(d, record, `ROLLBACK FAILED verification: ${rb.detail}`, {
        to: 'rollback_failed',
        reason: `${rb.reason}; rollback verification failed: ${rb.detail}`,
        event: { action: 'rollout.rollback_failed', data: { ...rb } },
      }, true);
    }
    return this.save(d, record, `rolled back: traffic on stable in ${rb.msToTraffic} ms, verified in ${rb.msToVerified} ms`, {
      to: 'rolled_back',
      reason: rb.reason,
      event: { action: 'rollout.rolled_back', data: { ...rb } },
    }, true);
  }
}

function newStep(weight: number, now: Date): StepRecord {
  return { weight, startedAt: now.toISOString(), smoke: null, verdict: null, reasons: [], canaryRequests: 0, stableRequests: 0, endedAt: null };
}

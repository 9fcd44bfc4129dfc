// The rollout controller: a reconciler. Each step reads a deployment's persisted record, looks
// at the target, asks the pure nextAction (domain/rollout.ts) what to do, does it (driver,
// smoke tests, metrics), and persists what the pure advance makes of it, with its audit event
// and the deployment state derived from the record. Killed at any point and started again, it
// carries on from the record: every driver action is idempotent, timed phases keep their start
// times, and where the target no longer matches the record (a crashed canary, a lost runtime)
// it rolls back to safety. A service's migration runs before the canary (phase migrate) and is
// undone after a rollback (migrate_down); the record says a run started before its command does,
// so a restart knows it may have run and runs it again (up and down must be idempotent).
import {
  type ActionOutcome,
  advance,
  type Advance,
  firstRecord,
  migrationStarted,
  nextAction,
  type RolloutAction,
  type RolloutRecord,
  type SmokeCheckSpec,
  type SmokeOutcome,
} from '../../domain/rollout.js';
import { isFinal } from '../../domain/deployment.js';
import type { Deployment } from '../../domain/types.js';
import { DriverError, type MetricsBatch, type MetricsContext, type MetricsSource, MetricsUnavailable, type RolloutContext } from '../../drivers/driver.js';
import { InputError } from '../../errors.js';
import { StaleRevisionError } from '../../store/store.js';
import type { CanaryAnalysis, Judgement } from './analysis.js';
import type { MigrationConfig } from './migration-config.js';
import { runMigration } from './migrations.js';
import type { RolloutEvent, RolloutRecords } from './records.js';
import type { Target } from './targets.js';

export interface ControllerOptions {
  records: RolloutRecords;
  /** How to reach the target of a deployment (its driver, metrics and plan). */
  target: (d: Deployment) => Target;
  analysis: CanaryAnalysis;
  /** The migration a deployment's service declares (services[].migrate), null when none. */
  migrations?: (d: { service: string; environment: string }) => MigrationConfig | null;
  smoke: (baseUrl: string, checks: SmokeCheckSpec[]) => Promise<SmokeOutcome[]>;
  now?: () => Date;
  /** Called after every action, for progress displays. */
  onProgress?: (d: Deployment, message: string) => void;
}

export type StepResult = { acted: boolean; done: boolean; message: string };

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

  /** Runs one deployment to its end in the foreground, polling every `pollMs`. */
  async run(id: number, opts: { pollMs?: number; deadlineMs?: number } = {}): Promise<Deployment> {
    const poll = opts.pollMs ?? 500;
    const deadline = Date.now() + (opts.deadlineMs ?? 6 * 3600_000);
    for (;;) {
      const r = await this.step(id);
      if (r.done) return this.opts.records.get(id);
      if (Date.now() > deadline) throw new Error(`deployment ${id} did not finish in time (${r.message})`);
      if (!r.acted) await new Promise((resolve) => setTimeout(resolve, poll));
    }
  }

  private async stepOnce(id: number): Promise<StepResult> {
    const { records } = this.opts;
    let d = await records.get(id);
    if (d.state === 'approved' || d.state === 'waiting_for_window') return this.begin(id);
    if (!ROLLOUT_STATES.has(d.state) || d.rollout === null) return { acted: false, done: true, message: `deployment ${id} is ${d.state}` };
    let rec = d.rollout;
    const target = this.opts.target(d);
    const ctx = await records.context(d);
    const seen = rec.phase === 'smoke' || rec.phase === 'analyse' || rec.phase === 'paused' || rec.phase === 'post_deploy' ? await target.driver.observe(ctx).catch(() => null) : null;
    const action = nextAction(rec, { version: d.version, canaryRunning: seen ? seen.canaryRunning : null }, this.now());
    if (action.kind === 'migrate') {
      // Written before the command starts: killed while it runs, a restart sees a run that
      // never ended and runs it again (or gives up after MIGRATION_ATTEMPTS).
      rec = migrationStarted(rec, action, this.now());
      d = await records.save(d, rec);
      const again = action.attempt > 1 ? ` again (attempt ${action.attempt}: the last run was interrupted)` : '';
      this.opts.onProgress?.(d, `migration ${action.direction} running${again}`);
    }
    let step: Advance;
    try {
      step = advance(rec, action, await this.perform(action, rec, target, ctx), this.now(), d.version);
    } catch (err) {
      // The target refused an action (the canary would not start, the runtime is gone): that
      // is a failed rollout, and the way to safety is the same rollback.
      if (!(err instanceof DriverError || err instanceof InputError)) throw err;
      step = advance(rec, { kind: 'start_rollback', trigger: 'driver', reason: `${rec.phase} failed: ${err.message}` }, { kind: 'none' }, this.now(), d.version);
    }
    if (action.kind === 'done') return { acted: false, done: true, message: 'done' };
    if (action.kind === 'wait') return { acted: false, done: false, message: step.message };
    // Evidence collected while waiting for a verdict is persisted too, so a restart keeps it.
    const saved = await records.save(d, step.record, step.event ? { event: step.event as RolloutEvent } : {});
    this.opts.onProgress?.(saved, step.message);
    // A rollback just decided (and persisted) moves traffic at once, not on the next look.
    if (step.record.phase === 'rollback' && action.kind !== 'rollback') return this.stepOnce(id);
    return { acted: step.acted, done: isFinal(saved.state), message: step.message };
  }

  /** An approved deployment: its gate again (a window may have closed), then its first record. */
  private async begin(id: number): Promise<StepResult> {
    const { deployment: d, waitingFor } = await this.opts.records.admit(id);
    if (d.state !== 'approved') return { acted: false, done: isFinal(d.state), message: waitingFor ?? d.state };
    const first = d.previousReleaseId === null;
    const migration = this.opts.migrations?.(d) ?? null;
    const rec = firstRecord(this.opts.target(d).plan, first, this.opts.analysis.start(), this.now(), migration ? { hasDown: migration.down !== null } : null);
    const started = await this.opts.records.begin(id, rec);
    const message = `rollout started: ${migration ? 'migration up, then ' : ''}steps ${rec.plan.steps.join(' → ')}%${first ? ' (first deployment here: nothing to compare with)' : ''}`;
    this.opts.onProgress?.(started, message);
    return { acted: true, done: false, message };
  }

  /** Does what the action says, against the target; what it found goes to advance. */
  private async perform(action: RolloutAction, rec: RolloutRecord, target: Target, ctx: RolloutContext): Promise<ActionOutcome> {
    const { driver, metrics } = target;
    switch (action.kind) {
      case 'migrate': {
        const cfg = this.opts.migrations?.(ctx) ?? null;
        const ran = cfg
          ? await runMigration(cfg, action.direction, { service: ctx.service, environment: ctx.environment, version: ctx.version, digest: ctx.digest, previousVersion: ctx.stableVersion })
          : { ok: false, durationMs: 0, countBefore: null, countAfter: null, error: `${ctx.service} declares no migrate: section any more` };
        return { kind: 'migrate', environment: ctx.environment, ok: ran.ok, durationMs: ran.durationMs, countBefore: ran.countBefore, countAfter: ran.countAfter, error: ran.error };
      }
      case 'deploy':
        await driver.deploy(ctx);
        return { kind: 'deploy' };
      case 'set_weight':
        await driver.setWeight(ctx, action.weight);
        return { kind: 'set_weight', cursor: metrics ? await cursorOr(metrics, ctx, rec.cursor) : null };
      case 'smoke': {
        const url = driver.urls(ctx).canary;
        return { kind: 'smoke', results: url ? await this.opts.smoke(url, rec.plan.smoke) : [], canaryKnown: url !== null };
      }
      case 'analyse': {
        if (!metrics) return { kind: 'analyse', analysis: rec.analysis, cursor: rec.cursor, judged: null };
        // The proof that errors are under the tolerance is asked at the last analysed step (the
        // one before 100%); an earlier step needs only no sign against it (domain/canary.ts).
        const proof = rec.plan.steps.slice(rec.step + 1).every((w) => w >= 100);
        let read: { batches: MetricsBatch[]; cursor: string };
        try {
          read = await metrics.read(metricsContext(ctx), rec.cursor);
        } catch (err) {
          // No reading (the source does not answer, a series is missing): inconclusive, never a
          // pass; the evidence so far is kept and the step's max_step still applies.
          if (!(err instanceof MetricsUnavailable)) throw err;
          return { kind: 'analyse', analysis: rec.analysis, cursor: rec.cursor, judged: unavailable(this.opts.analysis.judge(rec.analysis, { proof }), metrics.kind, err.message) };
        }
        const analysis = read.batches.reduce((state, batch) => this.opts.analysis.observe(state, batch, rec.weight / 100), rec.analysis);
        return { kind: 'analyse', analysis, cursor: read.cursor, judged: this.opts.analysis.judge(analysis, { proof }) };
      }
      case 'promote':
        await driver.promote(ctx);
        return { kind: 'promote', cursor: metrics ? await cursorOr(metrics, ctx, rec.cursor) : null };
      case 'post_deploy': {
        const urls = driver.urls(ctx);
        const url = urls.canary ?? urls.stable;
        const results = url ? await this.opts.smoke(url, rec.plan.smoke) : [];
        const reasons = results.filter((r) => !r.ok).map((r) => r.reason);
        let cursor = rec.cursor;
        if (metrics) {
          try {
            const read = await metrics.read(metricsContext(ctx), rec.cursor);
            cursor = read.cursor;
            const guard = this.opts.analysis.postDeploy(rec.analysis, read.batches);
            if (!guard.ok) reasons.push(...guard.reasons);
          } catch (err) {
            if (!(err instanceof MetricsUnavailable)) throw err;
            reasons.push(`no metrics since promotion (${metrics.kind}: ${err.message}); the new version cannot be verified`);
          }
        }
        return { kind: 'post_deploy', results, reasons, cursor };
      }
      case 'finalize':
        await driver.finalize(ctx);
        return { kind: 'finalize' };
      case 'rollback':
        return this.rollback(rec, target, ctx);
      default:
        return { kind: 'none' };
    }
  }

  /** Traffic to stable at once, then verify stable serves; timed. Safe to repeat after a crash. */
  private async rollback(rec: RolloutRecord, target: Target, ctx: RolloutContext): Promise<ActionOutcome> {
    try {
      await target.driver.rollback(ctx);
    } catch (err) {
      return { kind: 'rollback', restoredAt: null, verifiedAt: null, problems: [], failure: (err as Error).message };
    }
    const restoredAt = this.now();
    // Verify: the stable version serves and passes its health checks.
    const problems: string[] = [];
    const seen = await target.driver.observe(ctx).catch(() => null);
    if (seen && (!seen.stableRunning || seen.canaryWeight !== 0)) problems.push(`target still shows canary weight ${seen.canaryWeight}% / stable running: ${seen.stableRunning}`);
    const url = target.driver.urls(ctx).stable;
    const health = rec.plan.smoke.filter((c) => !c.tokenEnv);
    if (url && health.length) problems.push(...(await this.opts.smoke(url, health)).filter((r) => !r.ok).map((r) => r.reason));
    return { kind: 'rollback', restoredAt, verifiedAt: this.now(), problems, failure: null };
  }
}

/** Where "now" is in the metrics, or `fallback` when the source cannot say (the next look then
 * also reads the end of the last step, each batch judged at its own share). */
function cursorOr(metrics: MetricsSource, ctx: RolloutContext, fallback: string | null): Promise<string | null> {
  return metrics.cursor(metricsContext(ctx)).catch((err: unknown) => (err instanceof MetricsUnavailable ? fallback : Promise.reject(err)));
}

function metricsContext(ctx: RolloutContext): MetricsContext {
  return { service: ctx.service, environment: ctx.environment, canaryVersion: ctx.version, stableVersion: ctx.stableVersion };
}

/** The verdict so far, made inconclusive by a look that could not read the metrics. */
function unavailable(so: Judgement, source: string, why: string): Judgement {
  const reason = { metric: 'metrics', verdict: 'inconclusive' as const, sentence: `no reading from the ${source} metrics source: ${why}; inconclusive until it answers` };
  return { ...so, verdict: so.verdict === 'fail' ? 'fail' : 'inconclusive', reasons: [reason, ...so.reasons] };
}

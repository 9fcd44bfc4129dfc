// The rollback rehearsal: a release is deployed in an environment (staging, as a rule) next to
// the version serving there, given all of the traffic, smoke-tested, and then rolled back the
// way a real rollback would be — traffic first, then verification — with every phase timed.
// Nothing about the environment's deployments changes; the outcome goes into the audit log
// and a report file. A service with a migration has it run up before the deploy, down after the
// rollback and up again, with the record count before and after each run: "no data loss, down
// migrations tested". The database is left migrated up, as the real rollout's up would leave it.
import type { SmokeOutcome } from '../../domain/rollout.js';
import type { RolloutContext } from '../../drivers/driver.js';
import { ConflictError, InputError } from '../../errors.js';
import type { Shipgate } from '../../main.js';
import type { Actor } from '../access/actor.js';
import { record } from '../audit/record.js';
import type { MigrationConfig } from './migration-config.js';
import { type MigrationContext, type MigrationDirection, type MigrationOutcome, runMigration } from './migrations.js';
import { runSmokeChecks } from './smoke.js';
import { targetsFor } from './targets.js';

export interface RehearsalReport {
  service: string;
  environment: string;
  version: string;
  stableVersion: string;
  startedAt: string;
  ok: boolean;
  /** Deploy: the new version started and ready, taking no traffic. */
  msToDeploy: number | null;
  /** All traffic on the new version and its smoke tests passing, from the start. */
  msToServe: number | null;
  deploySmoke: SmokeOutcome[];
  /** Rollback decision → all traffic back on the stable version. */
  msToTraffic: number | null;
  /** Rollback decision → stable verified (running, no canary weight, health checks passing). */
  msToVerified: number | null;
  rollbackSmoke: SmokeOutcome[];
  problems: string[];
  /** The migration's up → down → up, when the service declares one (null when not). */
  migration: MigrationRehearsal | null;
}

export interface MigrationRehearsal {
  ok: boolean;
  /** Each run in order (up, down, up), with its time and the counts around it. */
  runs: MigrationOutcome[];
  /** The record count before the first up, after it, after the down and after the second up
   * (null: no count command, or the run did not happen). */
  counts: { beforeUp: number | null; afterUp: number | null; afterDown: number | null; afterUpAgain: number | null };
}

export async function rehearseRollback(sg: Shipgate, actor: Actor, service: string, version: string, environment: string): Promise<RehearsalReport> {
  const env = sg.config.environments.find((e) => e.name === environment);
  if (!env) throw new InputError(`unknown environment '${environment}'`);
  if (!env.rollout) throw new InputError(`${environment} has no rollout: section in ${sg.config.file}; a rehearsal needs the driver that rolls out there`);
  const release = await sg.releases.get(service, version);
  const stable = await sg.deployments.currentRelease(service, environment);
  if (!stable) throw new ConflictError(`nothing is deployed in ${environment} for ${service} yet: a rollback rehearsal needs a version to roll back to`);
  if (stable.version === version) throw new ConflictError(`${service} ${version} is already the version in ${environment}; rehearse a different release`);
  const open = (await sg.rollouts.work()).find((d) => d.service === service && d.environment === environment && d.rollout !== null);
  if (open) throw new ConflictError(`deployment ${open.id} is rolling out ${service} in ${environment}; rehearse when it has finished`);

  const target = targetsFor(sg.config)({ service, environment });
  const ctx: RolloutContext = {
    deploymentId: 0,
    service,
    environment,
    version,
    digest: release.digest,
    stableVersion: stable.version,
    stableDigest: stable.digest,
  };
  const smoke = target.plan.smoke;
  const report: RehearsalReport = {
    service,
    environment,
    version,
    stableVersion: stable.version,
    startedAt: new Date().toISOString(),
    ok: false,
    msToDeploy: null,
    msToServe: null,
    deploySmoke: [],
    msToTraffic: null,
    msToVerified: null,
    rollbackSmoke: [],
    problems: [],
    migration: null,
  };
  const migration = sg.config.services.find((s) => s.name === service)?.migrate ?? null;
  const migrate = migration ? migrationRehearsal(sg, actor, migration, report, { service, environment, version, digest: release.digest, previousVersion: stable.version }) : null;
  if (migrate && !(await migrate('up'))) {
    // The rollout would be blocked here: down, as it would run, and nothing is deployed.
    if (migration!.down) await migrate('down');
    return finish(sg, actor, report);
  }
  const t0 = performance.now();
  try {
    await target.driver.deploy(ctx);
    report.msToDeploy = Math.round(performance.now() - t0);
    await target.driver.setWeight(ctx, 100);
    await target.driver.observe(ctx);
    const canaryUrl = target.driver.urls(ctx).canary;
    report.deploySmoke = canaryUrl ? await runSmokeChecks(canaryUrl, smoke) : [];
    report.msToServe = Math.round(performance.now() - t0);
    report.problems.push(...report.deploySmoke.filter((r) => !r.ok).map((r) => `deploy: ${r.reason}`));
  } catch (err) {
    report.problems.push(`deploy: ${(err as Error).message}`);
  }
  // The rollback, whatever the deploy did: this is what is being rehearsed.
  const decided = performance.now();
  try {
    await target.driver.rollback(ctx);
    report.msToTraffic = Math.round(performance.now() - decided);
    const seen = await target.driver.observe(ctx);
    if (seen && (!seen.stableRunning || seen.canaryWeight !== 0 || seen.stableVersion !== stable.version)) {
      report.problems.push(`rollback: the target shows ${seen.stableVersion ?? 'no stable'} (running: ${seen.stableRunning}) and canary weight ${seen.canaryWeight}%`);
    }
    const stableUrl = target.driver.urls(ctx).stable;
    const health = smoke.filter((c) => !c.tokenEnv);
    report.rollbackSmoke = stableUrl && health.length ? await runSmokeChecks(stableUrl, health) : [];
    report.problems.push(...report.rollbackSmoke.filter((r) => !r.ok).map((r) => `rollback: ${r.reason}`));
    report.msToVerified = Math.round(performance.now() - decided);
  } catch (err) {
    report.problems.push(`rollback: ${(err as Error).message}`);
  }
  if (migrate) {
    if (!migration!.down) report.problems.push('migration: no down command is declared, so a rollback cannot undo it; the down → up rehearsal was not run');
    else {
      await migrate('down');
      // Up again whatever down did: the database is left as the release needs it.
      await migrate('up');
      const { afterUp, afterUpAgain } = report.migration!.counts;
      if (afterUp !== null && afterUpAgain !== null && afterUpAgain < afterUp) {
        report.problems.push(`migration: records lost in down → up: the count went from ${afterUp} to ${afterUpAgain}`);
      }
    }
  }
  return finish(sg, actor, report);
}

async function finish(sg: Shipgate, actor: Actor, report: RehearsalReport): Promise<RehearsalReport> {
  if (report.migration) report.migration.ok = !report.problems.some((p) => p.startsWith('migration'));
  report.ok = report.problems.length === 0;
  await sg.rollouts.recordRehearsal(actor, report.service, report.version, report.environment, { ...report });
  return report;
}

/** Runs one direction of the migration, keeps its figures in the report and the audit log;
 * whether it succeeded. */
function migrationRehearsal(sg: Shipgate, actor: Actor, cfg: MigrationConfig, report: RehearsalReport, ctx: MigrationContext) {
  const m: MigrationRehearsal = { ok: false, runs: [], counts: { beforeUp: null, afterUp: null, afterDown: null, afterUpAgain: null } };
  report.migration = m;
  return async (direction: MigrationDirection): Promise<boolean> => {
    const ran = await runMigration(cfg, direction, ctx);
    const again = direction === 'up' && m.runs.some((r) => r.direction === 'up');
    m.runs.push(ran);
    if (direction === 'down') m.counts.afterDown = ran.countAfter;
    else if (again) m.counts.afterUpAgain = ran.countAfter;
    else Object.assign(m.counts, { beforeUp: ran.countBefore, afterUp: ran.countAfter });
    if (!ran.ok) report.problems.push(`migration ${direction}${again ? ' (again)' : ''}: ${ran.error}`);
    await sg.store.transaction((tx) =>
      record(tx, sg.now(), actor, 'migration.ran', `release:${ctx.service}@${ctx.version}`, {
        environment: ctx.environment,
        version: ctx.version,
        direction,
        ok: ran.ok,
        durationMs: ran.durationMs,
        countBefore: ran.countBefore,
        countAfter: ran.countAfter,
        during: 'rehearsal',
        error: ran.error,
      }),
    );
    return ran.ok;
  };
}

// The rollback rehearsal: a release is deployed in an environment (staging, as a rule) next to
// the version serving there, given all of the traffic, smoke-tested, and then rolled back the
// way a real rollback would be — traffic first, then verification — with every phase timed.
// Nothing about the environment's deployments changes; the outcome goes into the audit log
// and a report file.
import type { SmokeOutcome } from '../../domain/rollout.js';
import type { RolloutContext } from '../../drivers/driver.js';
import { ConflictError, InputError } from '../../errors.js';
import type { Shipgate } from '../../main.js';
import type { Actor } from '../access/actor.js';
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
  };
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
  report.ok = report.problems.length === 0;
  await sg.rollouts.recordRehearsal(actor, service, version, environment, { ...report });
  return report;
}

// Deployment figures: DORA's five (deployment frequency, lead time for changes, change failure
// rate, failed-deployment recovery time, rework rate) and the seeds' own (success rate, time to
// deploy, time to rollback, MTTR, rollback frequency), each with the definition printed beside
// it. Pure: the deployments of one environment with their state changes and rollout records,
// and `now`, in; figures out. docs/metrics.md repeats the definitions.
import { InputError } from '../errors.js';
import type { RolloutRecord } from './rollout.js';
import type { DeploymentState, DeploymentType } from './types.js';

/** What the figures need of one deployment, gathered from the store. */
export interface DeploymentFacts {
  id: number;
  service: string;
  environment: string;
  type: DeploymentType;
  state: DeploymentState;
  requestedAt: string;
  /** When its release was registered (release.registered). */
  releaseRegisteredAt: string;
  /** Every state change, oldest first (the `deployment.state` audit events). */
  transitions: { to: DeploymentState; at: string }[];
  rollout: RolloutRecord | null;
}

export type FigureUnit = 'per_day' | 'ratio' | 'ms' | 'count';

export interface Figure {
  id: string;
  name: string;
  /** The headline number: the rate, the share, or the median of a distribution; null: no data. */
  value: number | null;
  unit: FigureUnit;
  definition: string;
  /** How many deployments (or events) it was computed from. */
  n: number;
  /** For distributions (unit ms): median and p90 (nearest rank), and the mean. */
  median?: number | null;
  p90?: number | null;
  mean?: number | null;
  /** For shares: numerator and denominator. */
  of?: { count: number; total: number };
  /** Rollback frequency: rollbacks per week of the window. */
  perWeek?: number;
  /** Which of DORA's five, or one the seeds ask for. */
  family: 'dora' | 'seeds';
}

export interface RollbackSplit {
  /** Rolled back before the canary reached 100% of traffic. */
  canaryCaught: number;
  /** Failures that reached 100%: rolled back during post-deploy verification or after, or
   * failed with no canary in front of them. */
  reachedFull: number;
  definition: string;
  /** Per failed deployment: where it was caught. */
  deployments: { id: number; service: string; state: DeploymentState; caught: 'canary' | 'full'; weight: number | null; trigger: string | null }[];
}

export interface Figures {
  environment: string;
  service: string | null;
  since: string;
  now: string;
  days: number;
  /** Deployments requested in the window that reached the environment (started rolling out). */
  deployed: number;
  /** Of those, the ones that ended (succeeded, failed, rolled back, rollback failed). */
  finished: number;
  figures: Figure[];
  rollbacks: RollbackSplit;
  /** Succeeded deployments per day, oldest first: what the UI's frequency chart draws. */
  perDay: { day: string; succeeded: number; failed: number }[];
}

const FAILED: ReadonlySet<DeploymentState> = new Set(['failed', 'rolled_back', 'rollback_failed']);
const ENDED: ReadonlySet<DeploymentState> = new Set(['succeeded', 'failed', 'rolled_back', 'rollback_failed']);
const DAY = 86_400_000;

/** `30d`, `12h`, `2w`, a date (`2026-11-01`) or an ISO time → the start of the window. */
export function parseSince(text: string | undefined, now: Date): Date {
  const t = (text ?? '30d').trim();
  const rel = /^(\d{1,5})([hdw])$/.exec(t);
  if (rel) {
    const n = Number(rel[1]);
    const ms = rel[2] === 'h' ? 3_600_000 : rel[2] === 'd' ? DAY : 7 * DAY;
    if (n === 0) throw new InputError(`--since must be a positive span (got '${t}')`, { field: 'since' });
    return new Date(now.getTime() - n * ms);
  }
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(t)) {
    const d = new Date(t.length === 10 ? `${t}T00:00:00Z` : t);
    if (!Number.isNaN(d.getTime())) {
      if (d.getTime() >= now.getTime()) throw new InputError(`--since ${t} is not in the past`, { field: 'since' });
      return d;
    }
  }
  throw new InputError(`--since must be a span like 30d, 12h or 2w, or a date like 2026-11-01 (got '${t}')`, { field: 'since' });
}

/** Median: the middle value, or the mean of the two middle values. */
export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile: the smallest value with at least q of the values at or below it. */
export function percentile(xs: number[], q: number): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : null);

/** When the deployment last entered `state`, or null. */
function entered(d: DeploymentFacts, state: DeploymentState): number | null {
  for (let i = d.transitions.length - 1; i >= 0; i--) if (d.transitions[i]!.to === state) return Date.parse(d.transitions[i]!.at);
  return null;
}

function reached(d: DeploymentFacts): boolean {
  return d.rollout !== null || d.transitions.some((t) => t.to === 'rolling_out') || ENDED.has(d.state);
}

/** Where a failed deployment was caught: before the canary took all traffic, or after. */
function caughtWhere(d: DeploymentFacts): 'canary' | 'full' {
  const r = d.rollout;
  if (!r?.rollback) return 'full';
  const promoted = r.postDeploy.length > 0 || r.steps.some((s) => s.weight >= 100);
  return promoted ? 'full' : 'canary';
}

/** The weight the canary had when the rollback was decided (the last step's), if known. */
function weightAtFailure(d: DeploymentFacts): number | null {
  const r = d.rollout;
  if (!r) return null;
  if (r.postDeploy.length) return 100;
  return r.steps.length ? r.steps[r.steps.length - 1]!.weight : 0;
}

/** When the failure was noticed: the rollback decision, else the move to failed/rolling_back. */
function failedAt(d: DeploymentFacts): number | null {
  if (d.rollout?.rollback) return Date.parse(d.rollout.rollback.decidedAt);
  return entered(d, 'rolling_back') ?? entered(d, 'failed') ?? entered(d, 'rollback_failed');
}

function distribution(id: string, name: string, family: Figure['family'], xs: number[], definition: string): Figure {
  const m = median(xs);
  return { id, name, family, unit: 'ms', value: m, median: m, p90: percentile(xs, 0.9), mean: mean(xs), n: xs.length, definition };
}

function share(id: string, name: string, family: Figure['family'], count: number, total: number, definition: string): Figure {
  return { id, name, family, unit: 'ratio', value: total ? count / total : null, of: { count, total }, n: total, definition };
}

/**
 * The figures of `environment` over [since, now]: the deployments requested in the window
 * count. Deployments outside it may be given too: a failure's recovery can be the service's
 * next success, whenever it came before now.
 */
export function computeFigures(input: { environment: string; service: string | null; since: Date; now: Date; deployments: DeploymentFacts[] }): Figures {
  const { since, now } = input;
  const all = input.deployments.filter((d) => d.environment === input.environment && (!input.service || d.service === input.service));
  const inWindow = all.filter((d) => {
    const t = Date.parse(d.requestedAt);
    return t >= since.getTime() && t <= now.getTime();
  });
  const days = Math.max((now.getTime() - since.getTime()) / DAY, 1 / 24);
  const deployed = inWindow.filter(reached);
  const finished = deployed.filter((d) => ENDED.has(d.state));
  const succeeded = finished.filter((d) => d.state === 'succeeded');
  const failed = finished.filter((d) => FAILED.has(d.state));
  const unplanned = deployed.filter((d) => d.type === 'hotfix' || d.type === 'rollback');

  const leadTimes = succeeded.flatMap((d) => {
    const done = entered(d, 'succeeded');
    return done === null ? [] : [done - Date.parse(d.releaseRegisteredAt)];
  });
  const deployTimes = succeeded.flatMap((d) => {
    const approved = entered(d, 'approved');
    const done = entered(d, 'succeeded');
    return approved === null || done === null ? [] : [done - approved];
  });
  // Recovery: a rollback verified puts the previous version back, healthy; a failure that no
  // rollback repaired is recovered by the service's next success in the environment.
  const recoveries = failed.flatMap((d) => {
    const start = failedAt(d);
    if (start === null) return [];
    const rb = d.rollout?.rollback;
    if (d.state === 'rolled_back' && rb?.verifiedAt) return [Date.parse(rb.verifiedAt) - start];
    const next = all
      .filter((x) => x.service === d.service && x.id !== d.id && x.state === 'succeeded')
      .map((x) => entered(x, 'succeeded'))
      .filter((t): t is number => t !== null && t >= start && t <= now.getTime())
      .sort((a, b) => a - b)[0];
    return next === undefined ? [] : [next - start];
  });
  const rollbackRecords = deployed.flatMap((d) => (d.rollout?.rollback ? [d.rollout.rollback] : []));
  const toTraffic = rollbackRecords.flatMap((r) => (r.msToTraffic === null ? [] : [r.msToTraffic]));
  const rolledBack = deployed.filter((d) => d.rollout?.rollback || d.type === 'rollback');

  const perDayMap = new Map<string, { succeeded: number; failed: number }>();
  for (let t = Date.parse(since.toISOString().slice(0, 10)); t <= now.getTime(); t += DAY) perDayMap.set(new Date(t).toISOString().slice(0, 10), { succeeded: 0, failed: 0 });
  for (const d of finished) {
    const at = entered(d, d.state) ?? Date.parse(d.requestedAt);
    const day = perDayMap.get(new Date(at).toISOString().slice(0, 10));
    if (day) day[d.state === 'succeeded' ? 'succeeded' : 'failed']++;
  }

  const splitRows = failed.map((d) => ({ id: d.id, service: d.service, state: d.state, caught: caughtWhere(d), weight: weightAtFailure(d), trigger: d.rollout?.rollback?.trigger ?? null }));
  const env = input.environment;
  const figures: Figure[] = [
    {
      id: 'deployment_frequency',
      name: 'Deployment frequency',
      family: 'dora',
      unit: 'per_day',
      value: succeeded.length / days,
      of: { count: succeeded.length, total: Math.round(days * 100) / 100 },
      n: succeeded.length,
      definition: `deployments to ${env} that succeeded, per day of the window (requested in the window)`,
    },
    distribution('lead_time', 'Lead time for changes', 'dora', leadTimes, `from the release being registered to its deployment succeeding in ${env}; succeeded deployments`),
    share('change_failure_rate', 'Change failure rate', 'dora', failed.length, finished.length, `deployments to ${env} that ended failed, rolled back or rollback_failed, as a share of those that ended`),
    distribution(
      'recovery_time',
      'Failed-deployment recovery time',
      'dora',
      recoveries,
      `from the failure (rollback decided, or the deployment failed) to the environment serving a healthy version again: the rollback verified, else the service's next succeeded deployment`,
    ),
    share('rework_rate', 'Rework rate', 'dora', unplanned.length, deployed.length, `unplanned deployments (hotfixes and rollback deployments) as a share of all deployments that reached ${env}`),
    share('success_rate', 'Success rate', 'seeds', succeeded.length, finished.length, `deployments to ${env} that succeeded, as a share of those that ended`),
    distribution('time_to_deploy', 'Time to deploy', 'seeds', deployTimes, `from the deployment's (last) approval to its success: the rollout with its post-deploy verification`),
    distribution('time_to_rollback', 'Time to rollback', 'seeds', toTraffic, `from a rollback being decided to all traffic back on the stable version (the rollout record's msToTraffic)`),
    {
      ...distribution('mttr', 'MTTR', 'seeds', recoveries, 'mean time to recovery: the mean of the failed-deployment recovery times (same start and end)'),
      value: mean(recoveries),
    },
    {
      ...share('rollback_frequency', 'Rollback frequency', 'seeds', rolledBack.length, deployed.length, `rollouts that rolled back (and rollback deployments), as a share of deployments that reached ${env}, and per week of the window`),
      perWeek: (rolledBack.length / days) * 7,
    },
  ];
  return {
    environment: env,
    service: input.service,
    since: since.toISOString(),
    now: now.toISOString(),
    days: Math.round(days * 100) / 100,
    deployed: deployed.length,
    finished: finished.length,
    figures,
    rollbacks: {
      canaryCaught: splitRows.filter((r) => r.caught === 'canary').length,
      reachedFull: splitRows.filter((r) => r.caught === 'full').length,
      definition: 'failed deployments split by how far they got: canary-caught were rolled back before the canary took 100% of traffic; reached 100% failed during post-deploy verification or later, or had no canary',
      deployments: splitRows,
    },
    perDay: [...perDayMap].map(([day, c]) => ({ day, ...c })),
  };
}

/** A duration for people: 850 ms, 42 s, 7.5 min, 3.2 h, 2.1 d. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  const a = Math.abs(ms);
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (a < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (a < DAY) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / DAY).toFixed(1)} d`;
}

/** The figure's number as printed beside its definition. */
export function formatFigure(f: Figure): string {
  if (f.value === null) return 'no data';
  switch (f.unit) {
    case 'per_day':
      return `${f.value.toFixed(2)}/day (${f.n} in ${f.of?.total ?? '?'} days)`;
    case 'ratio':
      return `${(f.value * 100).toFixed(1)}% (${f.of?.count}/${f.of?.total})${f.perWeek !== undefined ? `, ${f.perWeek.toFixed(2)}/week` : ''}`;
    case 'ms':
      return f.id === 'mttr' ? `${formatDuration(f.mean)} mean (n=${f.n})` : `median ${formatDuration(f.median)}, p90 ${formatDuration(f.p90)} (n=${f.n})`;
    case 'count':
      return String(f.value);
  }
}

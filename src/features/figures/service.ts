// The figures feature reads the store: the deployments of an environment with their state
// changes (deployment.state audit events), rollout records and releases, for the deployment
// figures (domain/figures.ts); and one deployment with its approvals, ticks, audit events and
// the service's newest rollback rehearsal, for the readiness report (domain/readiness.ts).
// Nothing here writes.
import { computeFigures, type DeploymentFacts, type Figures, parseSince } from '../../domain/figures.js';
import type { ReadinessInput } from '../../domain/readiness.js';
import type { DeploymentState } from '../../domain/types.js';
import { InputError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import type { AuditEvent } from '../audit/chain.js';
import { deploymentSubject } from '../audit/record.js';
import type { Directory } from '../directory.js';
import { deploymentById } from '../deployments/lifecycle.js';
import { releaseById } from '../releases/service.js';

/** The newest deployments of an environment the figures read: a bound on one request's work. */
export const MAX_DEPLOYMENTS = 5000;

export interface FiguresQuery {
  service?: string;
  environment?: string;
  since?: string;
}

export class FiguresService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /** Production: the last environment in the config's order. */
  defaultEnvironment(): string {
    const envs = this.directory.config.environments;
    return envs[envs.length - 1]!.name;
  }

  async figures(q: FiguresQuery): Promise<Figures> {
    const now = this.now();
    const since = parseSince(q.since, now);
    const environment = q.environment ?? this.defaultEnvironment();
    this.directory.policy(environment);
    if (q.service) this.directory.service(q.service);
    const listed = await this.store.deployments.list({ environment, service: q.service, limit: MAX_DEPLOYMENTS });
    const recent = listed.filter((d) => Date.parse(d.requestedAt) >= since.getTime());
    const releases = new Map<number, string>();
    const facts: DeploymentFacts[] = [];
    for (const d of recent) {
      if (!releases.has(d.releaseId)) releases.set(d.releaseId, (await releaseById(this.store, d.releaseId)).createdAt);
      const events = await this.events(deploymentSubject(d));
      facts.push({
        id: d.id,
        service: d.service,
        environment: d.environment,
        type: d.type,
        state: d.state,
        requestedAt: d.requestedAt,
        releaseRegisteredAt: releases.get(d.releaseId)!,
        transitions: events.filter((e) => e.action === 'deployment.state').map((e) => ({ to: (e.data as { to: DeploymentState }).to, at: e.at })),
        rollout: d.rollout,
      });
    }
    return computeFigures({ environment, service: q.service ?? null, since, now, deployments: facts.reverse() });
  }

  /** Everything the readiness report of one deployment shows. */
  async readiness(id: number): Promise<ReadinessInput> {
    const q = this.store;
    const deployment = await deploymentById(q, id);
    const [release, approvals, ticks, events] = await Promise.all([releaseById(q, deployment.releaseId), q.deployments.approvals(id), q.deployments.ticks(id), this.events(deploymentSubject(deployment))]);
    const policy = this.directory.policy(deployment.environment);
    const rule = policy.rollbackRehearsal ?? null;
    return {
      deployment,
      release,
      approvals,
      ticks,
      checklist: policy.checklist,
      events,
      rehearsal: await this.newestRehearsal(deployment.service, rule?.environment ?? null),
      rehearsalRule: rule,
      generatedAt: this.now().toISOString(),
    };
  }

  /** The service's newest `rehearsal.completed` (in `environment` when given), over its releases. */
  private async newestRehearsal(service: string, environment: string | null): Promise<AuditEvent | null> {
    let newest: AuditEvent | null = null;
    for (const r of await this.store.releases.list(service, 200)) {
      for (const e of await this.events(`release:${r.service}@${r.version}`)) {
        if (e.action !== 'rehearsal.completed') continue;
        if (environment && (e.data as { environment?: string }).environment !== environment) continue;
        if (!newest || e.seq > newest.seq) newest = e;
      }
    }
    return newest;
  }

  /** Every event about `subject`, a page at a time, oldest first. */
  private async events(subject: string): Promise<AuditEvent[]> {
    const all: AuditEvent[] = [];
    for (let after = 0; ; ) {
      const page = await this.store.audit.read({ subject, afterSeq: after, limit: 1000 });
      all.push(...page);
      if (page.length < 1000) return all;
      after = page[page.length - 1]!.seq;
      if (all.length > 100_000) throw new InputError(`${subject} has more than 100,000 audit events; too many to report on`);
    }
  }
}

// Parity between two environments: their declared settings (features/parity/settings.ts) and
// the release each runs per service, compared by domain/parity.ts under the policy of the
// environment compared against the other (`to`'s parity: allow and critical).
import type { ShipgateConfig } from '../../config/load.js';
import { compareParity, type ParityReport } from '../../domain/parity.js';
import { InputError } from '../../errors.js';
import type { Stores } from '../../store/store.js';
import type { Directory } from '../directory.js';
import { releaseById } from '../releases/service.js';
import { settingFacts } from './settings.js';

/** The settings comparison alone (no store): what the gate's parity check reads. */
export function settingsParity(config: ShipgateConfig, from: string, to: string, env: NodeJS.ProcessEnv = process.env): ParityReport {
  const envOf = (name: string) => config.environments.find((e) => e.name === name)!;
  return compareParity({
    from,
    to,
    fromSettings: settingFacts(envOf(from).settings ?? {}, env),
    toSettings: settingFacts(envOf(to).settings ?? {}, env),
    policy: envOf(to).policy.parity ?? null,
  });
}

export class ParityService {
  constructor(
    private readonly directory: Directory,
    private readonly store: Stores,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Settings and running versions of `from` against `to`; only `service`'s version when given. */
  async report(from: string, to: string, service?: string): Promise<ParityReport> {
    this.directory.policy(from);
    this.directory.policy(to);
    if (from === to) throw new InputError(`compare two different environments (got ${from} twice)`);
    if (service) this.directory.service(service);
    const config = this.directory.config;
    const services = service ? [service] : config.services.map((s) => s.name);
    const versions = [];
    for (const s of services) versions.push({ service: s, from: await this.running(s, from), to: await this.running(s, to) });
    return { ...settingsParity(config, from, to, this.env), versions: versions.map((v) => ({ ...v, same: v.from === v.to })) };
  }

  private async running(service: string, environment: string): Promise<string | null> {
    const d = await this.store.deployments.lastSucceeded(service, environment);
    return d ? (await releaseById(this.store, d.releaseId)).version : null;
  }
}

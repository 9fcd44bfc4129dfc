// Monitoring coverage: asks an environment's metrics source whether the metrics its policy
// requires exist, outside any transaction (the source is a network call), and keeps the answer
// for the gate, which reads it synchronously (GateInput.coverage). Asked again when the answer
// is older than `maxAgeMs`, and always just before a rollout starts.
import type { MonitoringCoverage } from '../../domain/types.js';
import type { MetricsSource } from '../../drivers/driver.js';
import type { Directory } from '../directory.js';

export type SourceFor = (d: { service: string; environment: string }) => Promise<MetricsSource | null>;

export class CoverageService {
  private readonly answers = new Map<string, MonitoringCoverage>();

  constructor(
    private readonly directory: Directory,
    private readonly sourceFor: SourceFor,
    private readonly now: () => Date,
    private readonly maxAgeMs = 60_000,
  ) {}

  /** The last answer for a service in an environment while `stableVersion` serves there; null
   * when never asked. */
  last(service: string, environment: string, stableVersion: string | null): MonitoringCoverage | null {
    return this.answers.get(keyOf(service, environment, stableVersion)) ?? null;
  }

  /** Asks the source when the policy requires metrics and the answer is missing or old (or `fresh`). */
  async ensure(d: { service: string; environment: string; canaryVersion: string; stableVersion: string | null }, opts: { fresh?: boolean } = {}): Promise<MonitoringCoverage | null> {
    const required = this.directory.policy(d.environment).monitoring;
    if (required.length === 0) return null;
    // A first deployment has nothing serving to measure (the gate warns); not asked.
    if (d.stableVersion === null) return null;
    const key = keyOf(d.service, d.environment, d.stableVersion);
    const known = this.answers.get(key);
    if (known && !opts.fresh && this.now().getTime() - Date.parse(known.at) < this.maxAgeMs) return known;
    const at = this.now().toISOString();
    let answer: MonitoringCoverage;
    let source: MetricsSource | null = null;
    try {
      source = await this.sourceFor(d);
      if (!source?.coverage) {
        answer = { at, source: source?.kind ?? 'none', error: `${d.environment} has no metrics source that can be asked (rollout.metrics)` };
      } else {
        const results = await source.coverage({ service: d.service, environment: d.environment, canaryVersion: d.canaryVersion, stableVersion: d.stableVersion }, required);
        answer = { at, source: source.kind, results };
      }
    } catch (err) {
      answer = { at, source: source?.kind ?? 'none', error: (err as Error).message };
    }
    this.answers.set(key, answer);
    return answer;
  }
}

/** The answer is about the version serving now: another one has series of its own. */
function keyOf(service: string, environment: string, stableVersion: string | null): string {
  return `${service}\u0000${environment}\u0000${stableVersion ?? ''}`;
}

// What the driver contract (contract.test.ts) needs of each driver: the driver, a way to look at
// its target, and the same driver made to refuse. One file per driver beside this one for the
// drivers with their own real components (nginx; Kubernetes against a mock API server).
import type { Driver, MetricsContext, MetricsSource, RolloutContext } from '../../src/drivers/driver.js';

export interface TargetView {
  stable: string | null;
  canary: string | null;
  weight: number;
}

export interface Subject {
  driver: Driver;
  /** What the target holds now, as its driver or its scripts know it. */
  look(ctx: RolloutContext): Promise<TargetView>;
  /** The same driver made to refuse its next deploy. */
  refusing(): Driver;
  close(): Promise<void>;
}

export const ctx = (service: string, version: string, stableVersion: string | null): RolloutContext => ({
  deploymentId: 1,
  service,
  environment: 'production',
  version,
  digest: `sha256:${version.replaceAll('.', '').padStart(64, 'e')}`,
  stableVersion,
  stableDigest: stableVersion ? `sha256:${stableVersion.replaceAll('.', '').padStart(64, 'e')}` : null,
});

export function observed(d: Driver) {
  return async (c: RolloutContext): Promise<TargetView> => {
    const seen = (await d.observe(c))!;
    return { stable: seen.stableRunning ? seen.stableVersion : null, canary: seen.canaryWeight > 0 || (seen.canaryRunning && seen.canaryVersion !== seen.stableVersion) ? seen.canaryVersion : null, weight: seen.canaryWeight };
  };
}


/** A metrics source with a way to make its target serve n requests, half to each version. */
export interface SourceSubject {
  source: MetricsSource;
  context: MetricsContext;
  /** Serves n requests split between canary and stable, and resolves once the source can see them. */
  serve(n: number): Promise<void>;
}

// The ports of a target: the Driver every target implements (put a version where traffic can
// reach it, split traffic between stable and canary, make either one the only version again)
// and the MetricsSource that tells how each version answers. Drivers live one per folder
// beside this file and are listed in registry.ts; metric sources live in src/metrics.
import type { CanaryRequest } from '../domain/canary.js';

/** What a driver is told about the deployment it acts for. */
export interface RolloutContext {
  deploymentId: number;
  service: string;
  environment: string;
  /** The version being rolled out (the canary). */
  version: string;
  digest: string;
  /** The version serving now (the stable), null on a first deployment. */
  stableVersion: string | null;
  stableDigest: string | null;
}

/** What a driver can see of its target right now. */
export interface TargetObservation {
  canaryWeight: number;
  canaryVersion: string | null;
  canaryRunning: boolean;
  stableVersion: string | null;
  stableRunning: boolean;
}

export interface Driver {
  readonly kind: string;
  /** Makes the canary version available, taking no traffic yet. Idempotent. */
  deploy(ctx: RolloutContext): Promise<void>;
  /** Sends this percentage (0..100) of new requests to the canary. Idempotent. */
  setWeight(ctx: RolloutContext, canaryPercent: number): Promise<void>;
  /** All traffic on the canary; the old stable stays available until finalize, for a fast rollback. */
  promote(ctx: RolloutContext): Promise<void>;
  /** The canary is now the stable version; the old one is retired. */
  finalize(ctx: RolloutContext): Promise<void>;
  /** All traffic back to the stable version at once; the canary is removed. */
  rollback(ctx: RolloutContext): Promise<void>;
  /** Where smoke tests reach each version, when the driver knows. */
  urls(ctx: RolloutContext): { canary: string | null; stable: string | null };
  /** The target as it is, when the driver can look (null when it cannot). */
  observe(ctx: RolloutContext): Promise<TargetObservation | null>;
}

export class DriverError extends Error {
  constructor(
    readonly action: string,
    message: string,
  ) {
    super(`${action}: ${message}`);
    this.name = 'DriverError';
  }
}

/** One request seen by the target: which version answered, how, and how fast. */
export type RequestRecord = CanaryRequest;

/**
 * Latency of one version over a batch as a histogram: `counts[i]` requests (not cumulative)
 * took at most `le[i]` ms and more than `le[i - 1]`; the last bound is Infinity. The bounds are
 * the source's own (a Prometheus histogram's `le` labels, in ms).
 */
export interface LatencyHistogram {
  le: number[];
  counts: number[];
}

/** What one version served over a batch, as counters: requests, errors, and their latency. */
export interface VersionCounts {
  requests: number;
  errors: number;
  /** Null when the source has no latency for this version. */
  latency: LatencyHistogram | null;
}

/**
 * One look's worth of evidence. Either every request (the local proxy, nginx's access log),
 * or per-version counters over an interval (Prometheus: the difference of two scrapes of
 * cumulative counters). The judge compares canary with stable within each batch.
 */
export type MetricsBatch =
  | { kind: 'requests'; records: RequestRecord[] }
  | { kind: 'counts'; at: number; canary: VersionCounts; stable: VersionCounts };

/** The source could not give a complete reading (no answer, a series missing): the analysis
 * stays inconclusive and says why; it never passes on what is not there. */
export class MetricsUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsUnavailable';
  }
}

/** A metric a policy requires the source to have before a rollout starts (monitoring coverage). */
export interface RequiredMetric {
  name: string;
  /** The source's query for it; for the standard ones (requests, errors, latency) the source
   * fills in its own when absent. */
  query: string | null;
}

export interface CoverageResult {
  name: string;
  /** What was asked of the source, shown when the metric is missing. */
  query: string;
  found: boolean;
  /** Why not, when not found (no series, the source did not answer). */
  detail: string | null;
}

/** Reads what a target served, incrementally. */
export interface MetricsSource {
  readonly kind: string;
  /** A position meaning "from now on". */
  cursor(ctx: MetricsContext): Promise<string>;
  /** Batches after `cursor` (all retained ones when null), and the position after them.
   * Throws MetricsUnavailable when it cannot read everything it should. */
  read(ctx: MetricsContext, cursor: string | null): Promise<{ batches: MetricsBatch[]; cursor: string }>;
  /** Whether each required metric exists in the source for this service now. */
  coverage?(ctx: MetricsContext, required: RequiredMetric[]): Promise<CoverageResult[]>;
}

/** Which versions a source reads: the service and environment, canary and stable. */
export interface MetricsContext {
  service: string;
  environment: string;
  canaryVersion: string;
  stableVersion: string | null;
}

/** All the requests in a list of batches of requests (counts batches are left out). */
export function requestsIn(batches: MetricsBatch[]): RequestRecord[] {
  return batches.flatMap((b) => (b.kind === 'requests' ? b.records : []));
}

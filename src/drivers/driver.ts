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

/** Reads the requests a target served, incrementally. */
export interface MetricsSource {
  /** A position meaning "from now on". */
  cursor(): Promise<string>;
  /** Requests after `cursor` (all retained ones when null), and the position after them. */
  read(cursor: string | null): Promise<{ records: RequestRecord[]; cursor: string }>;
}

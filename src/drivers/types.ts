// The one interface every target implements: put a version where traffic can reach it, split
// traffic between stable and canary, and make either one the only version again.

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

export interface Driver {
  readonly kind: string;
  /** Makes the canary version available, taking no traffic yet. */
  deploy(ctx: RolloutContext): Promise<void>;
  /** Sends this percentage (0..100) of new requests to the canary. */
  setWeight(ctx: RolloutContext, canaryPercent: number): Promise<void>;
  /** The canary becomes the stable version and takes all traffic. */
  promote(ctx: RolloutContext): Promise<void>;
  /** All traffic back to the stable version at once; the canary is removed. */
  rollback(ctx: RolloutContext): Promise<void>;
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

// The `memory` driver: a target that lives in this process and only remembers what it was
// told (versions, weight, which one serves). It ships beside the real drivers so the rollout
// controller can be tested one step at a time without processes or sockets, and so a user can
// dry-run a rollout plan. `fail` makes one action throw, as a refusing target would.
import { type Driver, DriverError, type RolloutContext, type TargetObservation } from '../driver.js';

export interface MemoryTarget {
  stable: string | null;
  canary: string | null;
  weight: number;
  /** Every action taken, in order, e.g. "weight 10". */
  actions: string[];
}

export class MemoryDriver implements Driver {
  readonly kind = 'memory';
  private readonly targets = new Map<string, MemoryTarget>();
  /** Action name → message: that action throws a DriverError until cleared. */
  readonly fail = new Map<string, string>();

  target(service: string, environment: string): MemoryTarget {
    const key = `${service}/${environment}`;
    let t = this.targets.get(key);
    if (!t) {
      t = { stable: null, canary: null, weight: 0, actions: [] };
      this.targets.set(key, t);
    }
    return t;
  }

  private act(ctx: RolloutContext, action: string, detail = ''): MemoryTarget {
    const refused = this.fail.get(action);
    if (refused) throw new DriverError(action, refused);
    const t = this.target(ctx.service, ctx.environment);
    t.actions.push(detail ? `${action} ${detail}` : action);
    return t;
  }

  async deploy(ctx: RolloutContext): Promise<void> {
    const t = this.act(ctx, 'deploy', ctx.version);
    t.stable ??= ctx.stableVersion;
    if (t.stable !== ctx.version) t.canary = ctx.version;
  }

  async setWeight(ctx: RolloutContext, canaryPercent: number): Promise<void> {
    const t = this.act(ctx, 'weight', String(canaryPercent));
    if (t.canary === ctx.version) t.weight = canaryPercent;
  }

  async promote(ctx: RolloutContext): Promise<void> {
    const t = this.act(ctx, 'promote', ctx.version);
    t.stable = ctx.version;
    t.canary = null;
    t.weight = 0;
  }

  async finalize(ctx: RolloutContext): Promise<void> {
    this.act(ctx, 'finalize');
  }

  async rollback(ctx: RolloutContext): Promise<void> {
    const t = this.act(ctx, 'rollback');
    t.stable = ctx.stableVersion;
    t.canary = null;
    t.weight = 0;
  }

  urls(): { canary: string | null; stable: string | null } {
    return { canary: null, stable: null };
  }

  async observe(ctx: RolloutContext): Promise<TargetObservation> {
    const t = this.target(ctx.service, ctx.environment);
    const serving = t.canary === ctx.version || t.stable === ctx.version;
    return {
      canaryWeight: t.canary ? t.weight : 0,
      canaryVersion: serving ? ctx.version : null,
      canaryRunning: serving,
      stableVersion: t.stable,
      stableRunning: t.stable !== null,
    };
  }
}
